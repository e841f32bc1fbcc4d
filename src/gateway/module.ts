import type { FastifyPluginAsync } from 'fastify';
import type { CacheModule } from '../cache/index.js';
import type { EventIngest } from '../events/index.js';
import type { HttpServer, Logger, ModuleContext, Service } from '../platform/index.js';
import { FeatureCache, type EtaPrediction, type Predictor } from '../predictor/index.js';
import { Admission } from './admission.js';
import { adminKeysRoutes } from './admin-keys-routes.js';
import { adminModelRoutes } from './admin-models-routes.js';
import type { ModelRegistry } from '../registry/index.js';
import type { StoreCatalog, StoreFeatures } from '../store/index.js';
import { ApiKeyStore, newDemoKey, SCOPES, type Scope } from './api-keys.js';
import { authorize, type PreHandler } from './auth.js';
import { registerCors } from './cors.js';
import type { GatewayConfig } from './config.js';
import { registerApiDocs } from './docs.js';
import { etaRoutes } from './eta-routes.js';
import { eventRoutes } from './event-routes.js';
import { LocalRateLimiter, RedisRateLimiter, type RateLimiter } from './rate-limit.js';
import { ResponseCache } from './response-cache.js';

export interface GatewayModule {
  service: Service;
  keys: ApiKeyStore;
  demoApiKey: string;
  authorizer: (...scopes: Scope[]) => PreHandler;
  /** Admission control for the process's HTTP server (`createHttpServer({ admission })`). */
  admission: Admission;
  /** Registers the API docs first, then the public routes, then `extra` plugins (store catalog, console). */
  register(app: HttpServer, extra: FastifyPluginAsync[]): Promise<void>;
}

export function createGatewayModule(
  ctx: ModuleContext,
  config: GatewayConfig,
  deps: {
    predictor: Predictor;
    stores: StoreFeatures & Partial<Pick<StoreCatalog, 'getMany'>>;
    version: string;
    cache?: CacheModule;
    /** The cache's Redis, for rate limits that hold across gateway replicas. */
    redis?: { url: string; clusterNodes: readonly string[] };
    /** POST /v1/events, and the online accuracy summary when this process computes it. */
    events?: { ingest: EventIngest; maxBatchBytes: number; accuracy?: () => unknown };
    /** The model registry, for the admin model API (list, promote, rollback, challenger). */
    registry?: ModelRegistry;
  },
): GatewayModule {
  const logger = ctx.logger.child({ module: 'gateway' });
  const keys = new ApiKeyStore(ctx.platform.dataDir);
  const demoApiKey = config.demoApiKey || newDemoKey();
  keys.addBuiltIn(demoApiKey, SCOPES, config.demoRateLimitPerSecond);
  const redis =
    deps.redis && (deps.redis.url !== '' || deps.redis.clusterNodes.length > 0) ? deps.redis : undefined;
  const limiter: RateLimiter =
    config.rateLimitRedis && redis ? new RedisRateLimiter(redis, logger) : new LocalRateLimiter();
  const authorizer = (...scopes: Scope[]): PreHandler =>
    authorize(keys, limiter, config.defaultRateLimitPerSecond, ...scopes);

  const routes = etaRoutes({
    predictor: deps.predictor,
    stores: fallbackStores(deps.stores, deps.cache, logger),
    config,
    authorizePredict: authorizer('predict'),
    ...(config.responseCache && deps.cache
      ? { responses: new ResponseCache(deps.cache.cacheFor<EtaPrediction>('responses'), deps.cache.keys) }
      : {}),
    logger,
    metrics: ctx.metrics,
  });

  return {
    service: { name: 'gateway', stop: async () => limiter.close?.() },
    keys,
    demoApiKey,
    authorizer,
    admission: new Admission({ maxInFlight: config.maxInFlight, batchMaxInFlight: config.batchMaxInFlight }),
    async register(app, extra) {
      registerCors(app, config.corsOrigins);
      await registerApiDocs(app, deps.version);
      await app.register(routes);
      await app.register(adminKeysRoutes(keys, authorizer('admin')));
      if (deps.registry)
        await app.register(
          adminModelRoutes({ registry: deps.registry, authorizeAdmin: authorizer('admin') }),
        );
      if (deps.events) {
        const { ingest, maxBatchBytes, accuracy } = deps.events;
        const authorizeEvents = authorizer('events');
        const authorizeAdmin = authorizer('admin');
        await app.register(
          eventRoutes({
            ingest,
            maxBatchBytes,
            authorizeEvents,
            authorizeAdmin,
            ...(accuracy ? { accuracy } : {}),
          }),
        );
      }
      for (const plugin of extra) await app.register(plugin);
    },
  };
}

/**
 * The fallback ETA reads store features through the same caches as the predictors, so it still answers when the
 * store service is slow or down and every predictor is too.
 */
function fallbackStores(
  stores: StoreFeatures & Partial<Pick<StoreCatalog, 'getMany'>>,
  cache: CacheModule | undefined,
  logger: Logger,
): StoreFeatures {
  if (!cache || !stores.getMany) return stores;
  const features = new FeatureCache({
    stores,
    profiles: (ids) => stores.getMany!(ids),
    profileCache: cache.cacheFor('store-profiles'),
    liveCache: cache.cacheFor('store-live'),
    deadlineMs: 50,
    logger,
  });
  return { getStoreFeatures: async (ids, atMs) => (await features.storeFeatures(ids, atMs)).records };
}
