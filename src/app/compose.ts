import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyPluginAsync } from 'fastify';
import { cacheConfigFor, createCacheModule, usesRedis } from '../cache/index.js';
import { createConsoleModule } from '../console/index.js';
import { createEventsModule, eventBackend, openEventLog } from '../events/index.js';
import {
  balancerOptions,
  createGatewayModule,
  keyBackendFor,
  PredictorBalancer,
  PredictorDiscovery,
  type GatewayModule,
} from '../gateway/index.js';
import { createGeoModule, GEO_ROUTE_PREFIX, GeoClient, type GeoFeatures } from '../geo/index.js';
import {
  createHttpServer,
  createLogger,
  createMetrics,
  DEFAULT_BREAKER,
  HttpClient,
  ServiceManager,
  type HttpClientOptions,
  type HttpServer,
  type Logger,
  type ModuleContext,
  type Service,
} from '../platform/index.js';
import {
  createPipelineModule,
  startAccuracyProjection,
  storeZone,
  type AccuracyProjection,
} from '../pipeline/index.js';
import {
  createPredictorModule,
  eventLogShadowSink,
  ExplainClient,
  invalidateOnWrite,
  PredictorClient,
  type Predictor,
  type PredictorModule,
} from '../predictor/index.js';
import {
  createStoreModule,
  storeCatalogRoutes,
  StoreClient,
  type StoreCatalog,
  type StoreFeatures,
} from '../store/index.js';
import type { AppConfig } from './config.js';
import { pipelineSourceOf, registryDatabaseOf, registryFromConfig } from './first-run.js';
import { internalTokenGuard, isLoopback, resolveInternalToken, StartupError } from './internal-auth.js';
import { MODULES, PRIMARY_ORDER, resolveTargets, type ModuleName } from './modules.js';

/**
 * One HTTP listener of a process. `public`: the public API (/v1, docs), health, readiness, metrics and the console,
 * every route but those behind an API key. `internal`: the routes other processes of the deployment call
 * (/internal/*, OIP v2 on a predictor process), behind the internal token; health, readiness and metrics stay open.
 */
export interface Listener {
  name: 'public' | 'internal';
  app: HttpServer;
  port: number;
  host: string;
}

export interface ComposeOptions {
  /** A child of `etaserve up` (one machine): a demo shape like `start --target all` when bound to loopback. */
  localCluster?: boolean;
}

export interface ComposedProcess {
  modules: ModuleName[];
  /** The primary listener: `listeners[0]`. */
  app: HttpServer;
  manager: ServiceManager;
  logger: Logger;
  /** The primary listener's port. */
  port: number;
  /** Every listener of this process, the primary one first. */
  listeners: Listener[];
  gateway: GatewayModule | undefined;
  predictor: PredictorModule | undefined;
  catalog: StoreCatalog | undefined;
}

export const VERSION = '0.1.0';

export function remoteModules(config: AppConfig): Set<ModuleName> {
  const remote = new Set<ModuleName>();
  if (config.topology.storeUrl) remote.add('store');
  if (config.topology.geoUrl) remote.add('geo');
  if (config.topology.predictorUrls.length > 0) remote.add('predictor');
  return remote;
}

function portOf(config: AppConfig, modules: readonly ModuleName[], explicit: readonly string[]): number {
  const primary =
    PRIMARY_ORDER.find((m) => explicit.includes('all') || explicit.includes(m)) ??
    modules[modules.length - 1]!;
  const ports: Record<ModuleName, number> = {
    gateway: config.gateway.port,
    predictor: config.predictor.port,
    pipeline: config.pipeline.port,
    store: config.store.port,
    geo: config.geo.port,
  };
  return ports[primary];
}

/**
 * The composition root: builds the modules of one process for the given targets, wiring each dependency either to
 * the in-process module or to an HTTP client of a remote one. The choice is configuration, not code.
 */
export async function composeProcess(
  config: AppConfig,
  targets: readonly string[],
  logger?: Logger,
  options: ComposeOptions = {},
): Promise<ComposedProcess> {
  const remote = remoteModules(config);
  const modules = resolveTargets(targets, remote);
  refuseUnsharedFileLog(config, targets, modules);
  const host = config.platform.host;
  // Every module this process needs runs in it: nothing calls it from outside, so it serves no internal route.
  const oneProcess = modules.includes('gateway') && remote.size === 0;
  // The demo key exists only where no other machine can reach it: the one-machine demo shapes on loopback.
  const demo =
    modules.includes('gateway') &&
    isLoopback(host) &&
    (targets.includes('all') || options.localCluster === true);
  if (modules.includes('gateway') && !demo && config.gateway.demoApiKey !== '')
    throw new StartupError(
      'gateway.demoApiKey (ETASERVE_DEMO_API_KEY) is only for the demo shapes bound to loopback (etaserve start --target all, etaserve up): ' +
        'unset it; outside them the first start creates an admin key, or set gateway.adminKeyFile',
    );
  const internalToken = resolveInternalToken(config.platform);
  const name = targets.includes('all') ? 'all' : modules.filter((m) => targets.includes(m)).join('+');
  const log = logger ?? createLogger({ level: config.platform.logLevel, name: `etaserve-${name}` });
  const ctx: ModuleContext = {
    logger: log,
    metrics: createMetrics({ target: name }),
    platform: config.platform,
  };
  const services: Service[] = [];
  const internalRoutes: Array<{ plugin: FastifyPluginAsync; prefix?: string }> = [];
  const remoteTimeout = config.topology.remoteTimeoutMs;
  // A store or geo that keeps failing is skipped at once (last known features, the fallback) rather than waited for
  // on every request; its state changes are logged for the operator.
  const dependencyBreaker = (dependency: string): Pick<HttpClientOptions, 'breaker' | 'onBreakerChange'> => ({
    breaker: DEFAULT_BREAKER,
    onBreakerChange: (state) =>
      (state === 'open' ? log.warn : log.info).call(
        log,
        { dependency, state },
        `${dependency} circuit breaker ${state}`,
      ),
  });

  // Store changes reach this process through Redis, or in process from its own store module; where they cannot,
  // live state and answers are cached only briefly (cache.unheardTtlMs), and answers carry no generation.
  const hearsStoreChanges = usesRedis(config.cache) || modules.includes('store');
  const cache = createCacheModule(ctx, cacheConfigFor(config.cache, hearsStoreChanges));
  if (hearsStoreChanges) cache.keys.followGenerations(cache.bus, config.cache.unheardTtlMs.responses);
  services.push(cache.service);

  // The event log: the gateway's process writes it (POST /v1/events); store and geo processes project it; the
  // pipeline's lake writer compacts it and applies its forget journal to the lake, wherever a forget ran.
  const events = modules.some((m) => m === 'gateway' || m === 'store' || m === 'geo' || m === 'pipeline')
    ? createEventsModule(ctx, config.events, {
        role: modules.includes('gateway') ? 'writer' : 'reader',
        fallbackRedisUrl: config.cache.redisUrl,
      })
    : undefined;
  if (events) services.push(events.service);
  const projectFrom =
    events && config.events.projections
      ? { log: events.log, replayHours: config.events.projectionReplayHours, pollMs: config.events.pollMs }
      : undefined;

  let stores: (StoreFeatures & Partial<StoreCatalog>) | undefined;
  let catalog: StoreCatalog | undefined;
  if (modules.includes('store')) {
    const store = createStoreModule(ctx, config.store, projectFrom, {
      liveCache: cache.cacheFor('store-live'),
      keys: cache.keys,
      bus: cache.bus,
      periodMs: config.cache.changeCoalesceMs,
      retentionMs: config.cache.ttlMs.storeLive * (1 + config.cache.refresh.graceRatio),
    });
    services.push(store.service);
    stores = store.store;
    catalog = store.catalog;
    internalRoutes.push({ plugin: store.internalRoutes as unknown as FastifyPluginAsync });
  } else if (remote.has('store')) {
    const client = new StoreClient(
      new HttpClient({
        name: 'store',
        baseUrl: config.topology.storeUrl,
        timeoutMs: remoteTimeout,
        internalToken,
        ...dependencyBreaker('store'),
      }),
    );
    stores = client;
    catalog = client;
  }

  // Every process of a deployment shares the registry through the catalog's database.
  const registry = registryFromConfig(config);
  services.push({ name: 'registry', stop: () => registry.close() });

  let geo: GeoFeatures | undefined;
  if (modules.includes('geo')) {
    // Geo serves the champion's own zone speeds, from the registry every process shares.
    const geoModule = createGeoModule(ctx, config.geo, projectFrom, {
      revision: () => registry.aliasesRevision(),
      load: async () => {
        const champion = await registry.resolve('champion');
        return champion === undefined ? undefined : registry.loadZoneSpeeds(champion);
      },
    });
    services.push(geoModule.service);
    geo = geoModule.geo;
    internalRoutes.push({
      plugin: geoModule.routes as unknown as FastifyPluginAsync,
      prefix: GEO_ROUTE_PREFIX,
    });
  } else if (remote.has('geo')) {
    geo = new GeoClient(
      new HttpClient({
        name: 'geo',
        baseUrl: config.topology.geoUrl,
        timeoutMs: remoteTimeout,
        internalToken,
        ...dependencyBreaker('geo'),
      }),
    );
  }

  let predictorModule: PredictorModule | undefined;
  let predictor: Predictor | undefined;
  if (modules.includes('predictor')) {
    // Shadow comparisons go to the event log, for the accuracy join. A cluster's predictor process has no log of
    // its own: a shared one (Redis Streams) takes appends from every replica; segment files only from their writer.
    let shadowLog = events?.ingest ? events.log : undefined;
    if (!shadowLog && eventBackend(config.events) === 'redis') {
      const appender = openEventLog(config.events, config.platform.dataDir, {
        role: 'writer',
        fallbackRedisUrl: config.cache.redisUrl,
      });
      services.push({ name: 'shadow-log', start: () => appender.open(), stop: () => appender.close() });
      shadowLog = appender;
    } else if (!shadowLog && config.rollout.shadowSampleRate > 0) {
      log.warn(
        'shadow comparisons are not logged: a predictor of its own process needs events.backend=redis',
      );
    }
    predictorModule = createPredictorModule(ctx, config.predictor, {
      registry,
      registryDatabase: registryDatabaseOf(config),
      stores: need(stores, 'store'),
      geo: need(geo, 'geo'),
      cache,
      rollout: config.rollout,
      ...(shadowLog ? { shadowSink: eventLogShadowSink(shadowLog, log) } : {}),
    });
    services.push(predictorModule.service);
    predictor = predictorModule.predictor;
    for (const plugin of predictorModule.routes) internalRoutes.push({ plugin });
  } else if (remote.has('predictor') && modules.includes('gateway')) {
    if (config.topology.predictorDiscovery === 'dns') {
      // One replica per address behind each name (docs/gateway-resilience.md, "Discovering predictor pods").
      const balancer = new PredictorBalancer([], balancerOptions(config.gateway), ctx.metrics, {
        dynamic: true,
      });
      const discovery = new PredictorDiscovery(balancer, {
        urls: config.topology.predictorUrls,
        intervalMs: config.topology.predictorDiscoveryIntervalMs,
        logger: log,
        client: (endpoint) =>
          new PredictorClient(endpoint.url, config.gateway.predictorTimeoutMs, {
            internalToken,
            hostHeader: endpoint.hostHeader,
          }),
      });
      services.push({
        name: 'predictor-discovery',
        start: () => discovery.start(),
        stop: async () => {
          discovery.stop();
          await balancer.close();
        },
      });
      predictor = balancer;
    } else {
      const replicas = config.topology.predictorUrls.map((url) => ({
        name: url,
        predictor: new PredictorClient(url, config.gateway.predictorTimeoutMs, { internalToken }),
      }));
      predictor = new PredictorBalancer(replicas, balancerOptions(config.gateway), ctx.metrics);
    }
  }

  let gateway: GatewayModule | undefined;
  let accuracy: AccuracyProjection | undefined;
  if (modules.includes('gateway')) {
    if (projectFrom) {
      services.push({
        name: 'accuracy',
        start: async () => {
          const { accuracyWindowMinutes: windowMinutes } = config.events;
          const options = { ...projectFrom, windowMinutes, logger: log, registry: ctx.metrics.registry };
          // The per-zone prep-shift check needs each store's zone: its location in the catalog.
          const storeCatalog = catalog;
          const zoneOfStores = storeCatalog
            ? async (ids: string[]) =>
                new Map([...(await storeCatalog.getMany(ids))].map(([id, s]) => [id, storeZone(s.location)]))
            : undefined;
          accuracy = startAccuracyProjection(projectFrom.log, {
            ...options,
            ...(zoneOfStores ? { zoneOfStores } : {}),
            // The join feeds the per-segment online ranges every predictor serves (docs/model.md, "Serving").
            ...(storeCatalog
              ? {
                  onlineRanges: {
                    registry,
                    stores: async (ids: string[]) => await storeCatalog.getMany(ids),
                    holder: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
                  },
                }
              : {}),
          });
        },
        stop: async () => accuracy?.close(),
      });
    }
    gateway = createGatewayModule(ctx, config.gateway, {
      predictor: need(predictor, 'predictor'),
      stores: need(stores, 'store'),
      version: VERSION,
      cache,
      registry,
      policy: config.pipeline.policy,
      redis: { url: config.cache.redisUrl, clusterNodes: config.cache.redisClusterNodes },
      demo,
      // PostgreSQL deployments share the keys through it, so a key created or revoked at one gateway holds at all.
      keys: keyBackendFor(config.store, config.platform.dataDir),
      ...(events?.ingest
        ? {
            events: {
              ingest: events.ingest,
              maxBatchBytes: config.events.maxBatchBytes,
              accuracy: () => accuracy?.summary() ?? { status: 'starting' },
            },
          }
        : {}),
    });
    services.push(gateway.service);
  }

  if (modules.includes('pipeline')) {
    // Continuous training on pipeline.schedule; the accuracy join (where this process runs it) feeds the policy.
    // `auto` settles here, from the host: a process reachable from elsewhere trains on the lake only.
    const pipelineConfig = { ...config.pipeline, source: pipelineSourceOf(config) };
    const pipeline = createPipelineModule(ctx, pipelineConfig, {
      job: {
        dataDir: config.platform.dataDir,
        geo: config.geo,
        simulator: config.simulator,
        registry: registryDatabaseOf(config),
        store: config.store,
        events: { config: config.events, fallbackRedisUrl: config.cache.redisUrl },
      },
      ...(events ? { log: events.log } : {}),
      // Champion and challenger on the same shadowed orders, else each on the orders it served (canary).
      shadow: async () =>
        accuracy?.comparison(await registry.resolve('champion'), await registry.resolve('challenger')),
    });
    services.push(pipeline.service);
  }

  const serverOptions = {
    logger: log,
    metrics: ctx.metrics,
    // Called per request, after `manager` below exists.
    readiness: () => manager.readiness(),
    isDraining: () => manager.isDraining,
    bodyLimitBytes: config.gateway.bodyLimitBytes,
    http: config.platform.http,
  };
  const app = createHttpServer({
    name,
    ...serverOptions,
    ...(gateway ? { admission: gateway.admission } : {}),
  });
  // OIP v2 is internal on a predictor process; on a gateway's process it is public, behind a predict key.
  if (predictorModule && !gateway) internalRoutes.push({ plugin: predictorModule.oip });
  const internal: FastifyPluginAsync = async (scope) => {
    if (internalToken) scope.addHook('onRequest', internalTokenGuard(internalToken));
    for (const r of internalRoutes) await scope.register(r.plugin, r.prefix ? { prefix: r.prefix } : {});
  };
  const port = portOf(config, modules, targets);
  const listeners: Listener[] = [];
  if (gateway) {
    const explainClient = predictorModule
      ? undefined
      : new ExplainClient(config.topology.predictorUrls, undefined, internalToken);
    const consoleModule = createConsoleModule({
      name,
      modules,
      registry: ctx.metrics.registry,
      guard: gateway.authorizer('admin'),
      logger: log,
      // In a local cluster the gateway's console also shows the other processes' metrics.
      scrapeUrls: [...config.topology.predictorUrls, config.topology.storeUrl, config.topology.geoUrl]
        .filter((url) => url !== '')
        .map((url) => `${url.replace(/\/$/, '')}/metrics`),
      explain: predictorModule?.explain ?? ((r) => explainClient!.explain(r)),
    });
    services.push(consoleModule.service);
    app.addHook('onResponse', consoleModule.countStoreRequests);
    const extra: FastifyPluginAsync[] = [consoleModule.routes];
    if (catalog)
      extra.push(
        storeCatalogRoutes({
          catalog: invalidateOnWrite(catalog, cache.cacheFor('store-profiles')),
          authorizeAdmin: gateway.authorizer('admin'),
          authorizeRead: gateway.authorizer('predict', 'admin'),
        }) as unknown as FastifyPluginAsync,
      );
    if (predictorModule) {
      const oip = predictorModule.oip;
      const authorizePredict = gateway.authorizer('predict');
      extra.push(async (scope) => {
        scope.addHook('onRequest', authorizePredict);
        await scope.register(oip);
      });
    }
    await gateway.register(app, extra);
    listeners.push({ name: 'public', app, port, host });
    // A gateway process that also runs store, geo or predictor in a multi-process shape: other processes reach
    // those modules only on a second, internal listener; without one they serve this process alone.
    if (!oneProcess && internalRoutes.length > 0) {
      if (config.platform.internalPort > 0) {
        const internalApp = createHttpServer({ name: `${name}-internal`, ...serverOptions });
        await internalApp.register(internal);
        listeners.push({ name: 'internal', app: internalApp, port: config.platform.internalPort, host });
      } else {
        log.info(
          { modules: modules.filter((m) => m !== 'gateway') },
          'these modules serve this process only; set platform.internalPort to serve them to other processes',
        );
      }
    }
  } else {
    await app.register(internal);
    listeners.push({ name: 'internal', app, port, host });
  }

  const servesInternal = listeners.some((l) => l.name === 'internal') && internalRoutes.length > 0;
  if (servesInternal && !internalToken) {
    if (!isLoopback(host))
      throw new StartupError(
        `refusing to serve internal routes on ${host} without an internal token: set platform.internalTokenFile ` +
          '(ETASERVE_INTERNAL_TOKEN_FILE, a mounted secret) or platform.internalToken (ETASERVE_INTERNAL_TOKEN) in every process',
      );
    log.warn(
      'internal routes are open to every local process: set platform.internalToken (etaserve up sets one)',
    );
  }

  const http: Service = {
    name: 'http',
    start: async () => {
      for (const l of listeners) await l.app.listen({ port: l.port, host: l.host });
    },
    stop: async () => {
      await Promise.all(listeners.map((l) => l.app.close()));
    },
  };
  const manager = new ServiceManager([...services, http], log);
  return {
    modules,
    app,
    manager,
    logger: log,
    port,
    listeners,
    gateway,
    predictor: predictorModule,
    catalog,
  };
}

/**
 * Segment files are read from the local disk: in a multi-process shape, a process on another disk would write a log
 * nobody reads (acknowledged events lost with its volume) or project an empty one. Refused unless configured as one
 * node's shared disk (etaserve up) or the log is Redis Streams.
 */
export function refuseUnsharedFileLog(
  config: AppConfig,
  targets: readonly string[],
  modules: readonly ModuleName[],
): void {
  // Every module in this one process: nobody else reads or writes its log.
  const everything = Object.keys(MODULES).every((m) => modules.includes(m as ModuleName));
  if (everything || config.topology.sharedDisk) return;
  // Who opens the log: the gateway appends, the pipeline trains from it, store and geo project it.
  const usesLog =
    modules.includes('gateway') ||
    modules.includes('pipeline') ||
    (config.events.projections && (modules.includes('store') || modules.includes('geo')));
  if (!usesLog || eventBackend(config.events) !== 'file') return;
  throw new StartupError(
    `refusing the file event log in a multi-process shape (--target ${targets.join(',')}): set events.backend=redis and events.redisUrl ` +
      '(ETASERVE_EVENTS_BACKEND=redis, ETASERVE_EVENTS_REDIS_URL) in every process, or topology.sharedDisk=true ' +
      "(ETASERVE_TOPOLOGY_SHARED_DISK) when all of them share this node's data directory, as etaserve up does",
  );
}

function need<T>(value: T | undefined, module: string): T {
  if (value === undefined) throw new Error(`${module} is neither in this process nor configured in topology`);
  return value;
}

export function describeModules(): string[] {
  return Object.entries(MODULES).map(
    ([name, m]) =>
      `${name.padEnd(10)} ${m.description}${m.deps.length ? ` (needs ${m.deps.join(', ')})` : ''}`,
  );
}
