import type { CacheModule } from '../cache/index.js';
import { createConsoleModule } from '../console/index.js';
import type { EventIngest, EventsConfig } from '../events/index.js';
import {
  defineModule,
  Gauge,
  isLoopback,
  StartupError,
  type HttpServer,
  type ModuleContext,
  type Registry,
  type Routes,
  type Service,
} from '../platform/index.js';
import { orderRoutes, STREAM_LIMITS, webhookRoutes } from '../orders/index.js';
import { PredictorBalancer, type EtaPrediction, type Predictor } from '../predictor/index.js';
import {
  storeCatalogRoutes,
  type FeatureCache,
  type StoreConfig,
  type StoreFeatures,
} from '../store/index.js';
import { Admission } from './admission.js';
import { adminKeysRoutes } from './admin-keys-routes.js';
import { adminModelRoutes } from './admin-models-routes.js';
import type { PolicyConfig } from '../pipeline/index.js';
import type { ModelRegistry } from '../registry/index.js';
import { readFileSync } from 'node:fs';
import { ApiKeyStore, newDemoKey, SCOPES, type Scope } from './api-keys.js';
import type { KeyBackend } from './key-backend.js';
import { keyBackendFor } from './key-sql.js';
import { authorize, type AuthHook } from './auth.js';
import { registerCors } from './cors.js';
import type { GatewayConfig } from './config.js';
import { registerApiDocs } from './docs.js';
import { etaRoutes } from './eta-routes.js';
import { eventRoutes } from './event-routes.js';
import { LocalRateLimiter, RedisRateLimiter, type RateLimiter } from './rate-limit.js';
import { ResponseCache } from './response-cache.js';
import { warmUpGateway } from './warm-up.js';

export interface GatewayModule {
  service: Service;
  keys: ApiKeyStore;
  /** The demo key, in the loopback demo shapes only (`demo: true`); undefined everywhere else. */
  demoApiKey: string | undefined;
  /** Set by the service's start when it created the first admin key (no key file yet): to be printed once. */
  readonly firstAdminKey: string | undefined;
  /** An `onRequest` hook: key, scope and rate limit, checked before the body is read. */
  authorizer: (...scopes: Scope[]) => AuthHook;
  /** Admission control for the process's HTTP server (`createHttpServer({ admission })`). */
  admission: Admission;
  /** Registers the API docs first, then the public routes, then `extra` plugins (store catalog, console). */
  register(app: HttpServer, extra: Routes[]): Promise<void>;
}

export function createGatewayModule(
  ctx: ModuleContext,
  config: GatewayConfig,
  deps: {
    predictor: Predictor;
    /** Store features for the fallback: through the process's caches when given (the store module's). */
    stores: StoreFeatures;
    features?: FeatureCache;
    version: string;
    cache?: CacheModule;
    /** The cache's Redis, for rate limits that hold across gateway replicas. */
    redis?: { url: string; clusterNodes: readonly string[] };
    /** POST /v1/events, and the online accuracy summary when this process computes it. */
    events?: { ingest: EventIngest; maxBatchBytes: number; accuracy?: () => unknown };
    /** The model registry, for the admin model API (list, promote, rollback, challenger). */
    registry?: ModelRegistry;
    /** The promotion policy (pipeline.policy), the same one the CLI and the schedule apply. */
    policy?: PolicyConfig;
    /**
     * A loopback demo shape (`start --target all`, `up`): a demo key with every scope, printed at each start.
     * Elsewhere there is none: the admin key comes from gateway.adminKeyFile or is created at the first start.
     */
    demo?: boolean;
    /** Where the keys live (keyBackendFor): PostgreSQL in a fleet; by default the data directory's file. */
    keys?: KeyBackend | string;
  },
): GatewayModule {
  const logger = ctx.logger.child({ module: 'gateway' });
  const keys = new ApiKeyStore(deps.keys ?? ctx.platform.dataDir, {
    // A key file damaged while running: the keys read before stay in force until it is repaired.
    onDamage: (err) => logger.error({ err }, 'API key file damaged; keeping the keys read before'),
    // A database that is down: likewise, and new or revoked keys wait for it.
    onRefreshError: (err) =>
      err
        ? logger.error({ err }, 'API keys cannot be read from the database; keeping the keys loaded before')
        : logger.info('API keys read from the database again'),
  });
  registerKeyMetrics(ctx.metrics.registry, keys);
  const demoApiKey = deps.demo ? config.demoApiKey || newDemoKey() : undefined;
  if (demoApiKey) keys.addBuiltIn(demoApiKey, SCOPES, config.demoRateLimitPerSecond);
  if (config.adminKeyFile) keys.addBuiltIn(readAdminKeyFile(config.adminKeyFile), SCOPES, null, 'admin-file');
  let firstAdminKey: string | undefined;
  const redis =
    deps.redis && (deps.redis.url !== '' || deps.redis.clusterNodes.length > 0) ? deps.redis : undefined;
  const limiter: RateLimiter =
    config.rateLimitRedis && redis ? new RedisRateLimiter(redis, logger) : new LocalRateLimiter();
  const authorizer = (...scopes: Scope[]): AuthHook =>
    authorize(keys, limiter, config.defaultRateLimitPerSecond, ...scopes);

  const routes = etaRoutes({
    predictor: deps.predictor,
    stores: fallbackStores(deps.stores, deps.features),
    config,
    authorizePredict: authorizer('predict'),
    ...(config.responseCache && deps.cache
      ? { responses: new ResponseCache(deps.cache.cacheFor<EtaPrediction>('responses'), deps.cache.keys) }
      : {}),
    logger,
    metrics: ctx.metrics,
  });

  return {
    service: {
      name: 'gateway',
      // A damaged key file stops the start here, with its name, rather than failing every request later.
      start: async () => {
        if (demoApiKey || config.adminKeyFile) await keys.load();
        else firstAdminKey = await keys.createFirstAdminKey();
        keys.startRefresh();
        if (deps.predictor instanceof PredictorBalancer) deps.predictor.startProbes();
      },
      stop: async () => {
        if (deps.predictor instanceof PredictorBalancer) deps.predictor.stopProbes();
        await limiter.close?.();
        await keys.close();
      },
      // With no predictor replica up the gateway still answers, with fallback ETAs: degraded, so a load balancer
      // keeps it (docs/gateway-resilience.md, "Readiness").
      check: () => {
        const reasons: string[] = [];
        // Stale keys (their database down) still serve: degraded, not unready.
        const stale = keys.health().reason;
        if (stale) reasons.push(stale);
        if (deps.predictor instanceof PredictorBalancer) {
          const { up, down } = deps.predictor.health();
          if (up.length === 0)
            reasons.push(
              `no predictor replica is up (${down.map((d) => `${d.name}: ${d.why}`).join('; ')}): answering with fallback ETAs`,
            );
        }
        return reasons.length === 0
          ? { ready: true }
          : { ready: true, degraded: true, reason: reasons.join('; ') };
      },
    },
    keys,
    demoApiKey,
    get firstAdminKey() {
      return firstAdminKey;
    },
    authorizer,
    admission: new Admission({ maxInFlight: config.maxInFlight, batchMaxInFlight: config.batchMaxInFlight }),
    async register(app, extra) {
      registerCors(app, config.corsOrigins);
      await registerApiDocs(app, deps.version);
      await app.register(routes);
      await app.register(adminKeysRoutes(keys, authorizer('admin')));
      if (deps.registry)
        await app.register(
          adminModelRoutes({
            registry: deps.registry,
            authorizeAdmin: authorizer('admin'),
            ...(deps.policy ? { policy: deps.policy } : {}),
          }),
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

/** The admin key of a mounted secret: only its hash is kept in memory. */
function readAdminKeyFile(file: string): string {
  let key: string;
  try {
    key = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new Error(`cannot read the admin key file ${file} (gateway.adminKeyFile): ${(e as Error).message}`);
  }
  if (key.length < 32)
    throw new Error(
      `the admin key in ${file} (gateway.adminKeyFile) is too short: use at least 32 random characters`,
    );
  return key;
}

/**
 * The fallback ETA reads store features through the same caches as the predictors, so it still answers when the
 * store service is slow or down and every predictor is too.
 */
function fallbackStores(stores: StoreFeatures, features: FeatureCache | undefined): StoreFeatures {
  if (!features) return stores;
  return {
    getStoreFeatures: async (ids, atMs) => (await features.storeFeatures(ids, atMs)).records,
  };
}

/** How old the gateway's key index is: grows past a second only while the keys' database cannot be read. */
function registerKeyMetrics(registry: Registry, keys: ApiKeyStore): void {
  if (registry.getSingleMetric('etaserve_api_keys_age_seconds')) return;
  new Gauge({
    name: 'etaserve_api_keys_age_seconds',
    help: 'Seconds since the API keys were last read from their database (0 with the key file)',
    registers: [registry],
    collect() {
      this.set(keys.health().staleSeconds);
    },
  });
}

declare module '../platform/module-definition.js' {
  interface ModuleProvides {
    gateway: GatewayModule;
  }
}

interface GatewayModuleConfig {
  gateway: GatewayConfig;
  store: StoreConfig;
  events: EventsConfig;
  pipeline: { policy: PolicyConfig };
  cache: { redisUrl: string; redisClusterNodes: string[] };
  topology: { predictorUrls: string[]; storeUrl: string; geoUrl: string };
}

export const VERSION = '0.1.0';

export const gatewayModule = defineModule<GatewayModuleConfig, GatewayModule>({
  name: 'gateway',
  description: 'the public API: keys, rate limits, balancing, fallback, console',
  needs: ['cache', 'registry', 'events', 'store', 'predictor', 'accuracy'],
  uses: ['orders'],
  port: (config) => config.gateway.port,
  init({ config, ctx, get, find, runs, targets, localCluster, processName, local }) {
    // The demo key exists only where no other machine can reach it: the one-machine demo shapes on loopback.
    const demo = isLoopback(ctx.platform.host) && (targets.includes('all') || localCluster);
    if (!demo && config.gateway.demoApiKey !== '')
      throw new StartupError(
        'gateway.demoApiKey (ETASERVE_DEMO_API_KEY) is only for the demo shapes bound to loopback (etaserve start --target all, etaserve up): ' +
          'unset it; outside them the first start creates an admin key, or set gateway.adminKeyFile',
      );
    const store = get('store');
    const predictor = get('predictor');
    const events = get('events');
    const accuracy = get('accuracy');
    const gateway = createGatewayModule(ctx, config.gateway, {
      predictor: predictor.predictor,
      stores: store.source,
      features: store.features,
      version: VERSION,
      cache: get('cache'),
      registry: get('registry').registry,
      policy: config.pipeline.policy,
      redis: { url: config.cache.redisUrl, clusterNodes: config.cache.redisClusterNodes },
      demo,
      // PostgreSQL deployments share the keys through it, so a key created or revoked at one gateway holds at all.
      keys: keyBackendFor(config.store, ctx.platform.dataDir),
      ...(events.ingest
        ? {
            events: {
              ingest: events.ingest,
              maxBatchBytes: config.events.maxBatchBytes,
              accuracy: () => accuracy.summary(),
            },
          }
        : {}),
    });
    const consoleModule = createConsoleModule({
      name: processName,
      modules: local,
      registry: ctx.metrics.registry,
      guard: gateway.authorizer('admin'),
      logger: ctx.logger,
      // In a local cluster the gateway's console also shows the other processes' metrics.
      scrapeUrls: [...config.topology.predictorUrls, config.topology.storeUrl, config.topology.geoUrl]
        .filter((url) => url !== '')
        .map((url) => `${url.replace(/\/$/, '')}/metrics`),
      explain: predictor.explain,
    });
    // Live order ETAs where the order state is in this process or reachable (topology.ordersUrl).
    const orders = find('orders');
    const extra: Routes[] = [
      consoleModule.routes,
      ...(orders
        ? [
            orderRoutes(
              orders,
              { predict: gateway.authorizer('predict'), admin: gateway.authorizer('admin') },
              STREAM_LIMITS,
            ),
            webhookRoutes(orders.webhooks, gateway.authorizer('admin')),
          ]
        : []),
      storeCatalogRoutes({
        catalog: store.catalog,
        authorizeAdmin: gateway.authorizer('admin'),
        authorizeRead: gateway.authorizer('predict', 'admin'),
      }),
    ];
    // OIP v2 of a predictor in this process is public here, behind a predict key.
    const oip = runs('predictor') ? predictor.oip : undefined;
    if (oip) {
      const authorizePredict = gateway.authorizer('predict');
      extra.push(async (scope) => {
        scope.addHook('onRequest', authorizePredict);
        await scope.register(oip);
      });
    }
    return {
      provides: gateway,
      services: [gateway.service, consoleModule.service],
      admission: gateway.admission,
      warmUp: async (origins, signal) => {
        const warmed = await warmUpGateway({
          origin: origins.public!,
          keys: gateway.keys,
          catalog: store.catalog,
          requests: config.gateway.warmUpRequests,
          signal,
          logger: ctx.logger,
        });
        if (warmed) ctx.logger.info(warmed, 'gateway warmed up');
      },
      publicApi: async (app) => {
        app.addHook('onResponse', consoleModule.countStoreRequests);
        await gateway.register(app, extra);
      },
    };
  },
});
