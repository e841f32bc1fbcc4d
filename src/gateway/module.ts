import type { FastifyPluginAsync } from 'fastify';
import type { HttpServer, ModuleContext, Service } from '../platform/index.js';
import type { Predictor } from '../predictor/index.js';
import type { StoreFeatures } from '../store/index.js';
import { ApiKeyStore, newDemoKey, SCOPES, type Scope } from './api-keys.js';
import { authorize, type PreHandler } from './auth.js';
import type { GatewayConfig } from './config.js';
import { registerApiDocs } from './docs.js';
import { etaRoutes } from './eta-routes.js';
import { LocalRateLimiter } from './rate-limit.js';

export interface GatewayModule {
  service: Service;
  keys: ApiKeyStore;
  demoApiKey: string;
  authorizer: (...scopes: Scope[]) => PreHandler;
  /** Registers the API docs first, then the public routes, then `extra` plugins (store catalog, console). */
  register(app: HttpServer, extra: FastifyPluginAsync[]): Promise<void>;
}

export function createGatewayModule(
  ctx: ModuleContext,
  config: GatewayConfig,
  deps: { predictor: Predictor; stores: StoreFeatures; version: string },
): GatewayModule {
  const logger = ctx.logger.child({ module: 'gateway' });
  const keys = new ApiKeyStore(ctx.platform.dataDir);
  const demoApiKey = config.demoApiKey || newDemoKey();
  keys.addBuiltIn(demoApiKey, SCOPES, config.demoRateLimitPerSecond);
  const limiter = new LocalRateLimiter();
  const authorizer = (...scopes: Scope[]): PreHandler => authorize(keys, limiter, config.defaultRateLimitPerSecond, ...scopes);

  const routes = etaRoutes({
    predictor: deps.predictor,
    stores: deps.stores,
    config,
    authorizePredict: authorizer('predict'),
    logger,
    metrics: ctx.metrics,
  });

  return {
    service: { name: 'gateway' },
    keys,
    demoApiKey,
    authorizer,
    async register(app, extra) {
      await registerApiDocs(app, deps.version);
      await app.register(routes);
      for (const plugin of extra) await app.register(plugin);
    },
  };
}
