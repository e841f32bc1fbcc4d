import { MODELS_GENERATION, type CacheModule } from '../cache/index.js';
import { appenderOf, type EventLog, type EventsConfig, type EventsProvides } from '../events/index.js';
import { offsetKm } from '../features/index.js';
import type { GeoFeatures } from '../geo/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  chunks,
  createMetrics,
  defineModule,
  EtaError,
  type Logger,
  type ModuleContext,
  type RoutePlugin,
  type Routes,
  type Service,
} from '../platform/index.js';
import type { ModelRegistry, RegistryDatabase } from '../registry/index.js';
import {
  isOpen,
  type FeatureCache,
  type Store,
  type StoreFeatures,
  type StoreLiveSource,
} from '../store/index.js';
import type { PredictorConfig } from './config.js';
import { PredictorClient } from './client.js';
import { balancerOptions, PredictorBalancer, type BalancerSettings } from './replicas/balancer.js';
import { PredictorDiscovery } from './replicas/discovery.js';
import { Value } from 'typebox/value';
import { DriftMonitor } from './drift.js';
import { EtaPredictor } from './eta.js';
import {
  eventLogShadowSink,
  Rollout,
  rolloutConfigSchema,
  type RolloutConfig,
  type ShadowSink,
} from './rollout.js';
import { ExplainClient, explainEta, explainRoutes, type EtaExplanation } from './explain.js';
import { ModelRuntime } from './model-runtime.js';
import { OnlineRangesFollower } from './online-ranges.js';
import { oipRoutes } from './oip.js';
import { predictorInternalRoutes, WARM_UP_HEADER } from './routes.js';
import type { EtaRequest, EtaResult, Predictor } from './types.js';

export interface PredictorModule {
  service: Service;
  predictor: Predictor;
  runtime: ModelRuntime;
  /** Internal routes (`/internal/predict/*`), for gateways and consoles of other processes. */
  routes: Array<RoutePlugin['plugin']>;
  /** Open Inference Protocol v2 (`/v2/*`): internal on a predictor process, behind a predict key on a gateway's. */
  oip: Routes;
  /** An ETA with its feature vector and contributions (the console's "why"). */
  explain: (request: EtaRequest) => Promise<EtaExplanation>;
  /**
   * Synthetic ETAs before the process turns ready: over its own internal route when it serves one (`internal`,
   * with the deployment's token), so the route is warm too; straight to the serving path otherwise.
   */
  warmUp(internal: { origin: string; token: string | undefined } | undefined): Promise<void>;
}

export function createPredictorModule(
  ctx: ModuleContext,
  config: PredictorConfig,
  deps: {
    registry: ModelRegistry;
    /** The registry's database, so the model loader thread reads artifacts itself (off the event loop). */
    registryDatabase?: RegistryDatabase;
    /** The store service: live state is what the cached path asks it for; whole records without the caches. */
    stores: StoreFeatures & StoreLiveSource;
    /** Store features through the process's caches (the store module's); without them, fetched every time. */
    features?: FeatureCache;
    /** Trip estimates, through the process's cache when geo's module gives one. */
    geo: GeoFeatures;
    /** Answers held by gateways move to new keys when a model changes (the cache's generations). */
    cache?: CacheModule;
    /** Shadow, canary and drift settings (the `rollout` section); defaults when absent. */
    rollout?: Partial<RolloutConfig>;
    /** Where shadow comparisons go (the event log, for the prediction-vs-actual join). */
    shadowSink?: ShadowSink;
  },
): PredictorModule {
  const logger = ctx.logger.child({ module: 'predictor' });
  const runtime = new ModelRuntime({
    registry: deps.registry,
    registryDatabase: deps.registryDatabase,
    modelFile: config.modelFile || undefined,
    requireEtaFeatures: !config.modelFile,
    warmupRows: config.warmupRows,
    pollMs: config.aliasPollMs,
    logger,
    metrics: ctx.metrics,
  });
  const { cache } = deps;
  const rolloutConfig = Value.Default(rolloutConfigSchema, { ...deps.rollout }) as RolloutConfig;
  const drift = new DriftMonitor(
    {
      threshold: rolloutConfig.driftPsiThreshold,
      minRows: rolloutConfig.driftMinRows,
      intervalMs: rolloutConfig.driftIntervalMs,
      windowMs: rolloutConfig.driftWindowMs,
    },
    ctx.metrics,
    logger,
  );
  runtime.onChange((alias, active) => {
    if (alias !== 'champion') return;
    if (!active) return drift.setProfile(undefined);
    deps.registry
      .loadProfile(active.version)
      .then((profile) => {
        if (runtime.active === active) drift.setProfile(profile);
      })
      .catch((e: unknown) => logger.warn({ err: e }, 'no training profile: drift is not measured'));
  });
  // Each answer's range follows its segment's online state, as the accuracy join's feeder saves it.
  const onlineRanges = new OnlineRangesFollower({
    runtime,
    registry: deps.registry,
    pollMs: config.aliasPollMs,
    logger,
  });
  const rollout = new Rollout({
    config: rolloutConfig,
    runtime,
    ...(deps.shadowSink ? { sink: deps.shadowSink } : {}),
    metrics: ctx.metrics,
  });
  const predictor = new EtaPredictor({
    runtime,
    rollout,
    drift,
    stores: deps.stores,
    ...(deps.features ? { features: deps.features } : {}),
    geo: deps.geo,
    featureDeadlineMs: config.featureDeadlineMs,
    logger,
    metrics: ctx.metrics,
  });
  const service: Service = {
    name: 'predictor',
    start: async () => {
      await runtime.start();
      // A later champion or challenger changes answers the gateways hold: move every answer to new keys.
      if (cache) runtime.onChange(() => void cache.bus.advance([MODELS_GENERATION]));
      await warmFeatureConnections(deps, logger);
      const known = deps.features?.knownStores(WARM_CACHE_STORES) ?? [];
      await Promise.all([warmTravel(known, deps, logger), warmLive(known, deps, logger)]);
      drift.start();
      onlineRanges.start();
    },
    stop: async () => {
      runtime.stop();
      drift.stop();
      onlineRanges.stop();
    },
    // Started without a champion (a fresh production deployment, before its first lake model): the gateway answers
    // every ETA with its fallback, so the process serves, degraded; the registry poll swaps the champion in later.
    check: () =>
      runtime.active
        ? { ready: true }
        : { ready: true, degraded: true, reason: 'no champion model yet: serving fallback ETAs' },
  };
  // A predictor of its own for warm-up ETAs, with no rollout, drift monitor or metrics of the real one: nothing it
  // answers is shadowed, profiled or counted.
  const warm = new EtaPredictor({
    runtime,
    stores: deps.stores,
    ...(deps.features ? { features: deps.features } : {}),
    geo: deps.geo,
    featureDeadlineMs: Math.max(config.featureDeadlineMs, WARM_UP_FEATURE_DEADLINE_MS),
    logger,
    metrics: createMetrics({ target: 'warm-up' }),
  });
  return {
    service,
    predictor,
    runtime,
    warmUp: async (internal) => {
      const stores = deps.features?.knownStores(512) ?? [];
      if (!runtime.active || stores.length === 0) return;
      if (!internal) return warmPredictions(stores, (request) => warm.predict(request), logger);
      const route = ownRoute(internal.origin, internal.token);
      try {
        await warmPredictions(stores, route.predict, logger);
      } finally {
        await route.close();
      }
    },
    routes: [predictorInternalRoutes(predictor, warm), explainRoutes(predictor)],
    oip: oipRoutes(runtime, config.modelName),
    explain: (request) => explainEta(predictor, request),
  };
}

/**
 * Opens the connections to store and geo (and compiles their paths) before the predictor reports ready, so the
 * first real request does not spend its feature deadline on TCP handshakes and answer degraded.
 */
async function warmFeatureConnections(
  { stores, features, geo }: Parameters<typeof createPredictorModule>[2],
  logger: Logger,
): Promise<void> {
  const here = { lat: 0, lng: 0 };
  const results = await Promise.allSettled([
    // The route the serving path calls: live state through the caches, whole records without them.
    features ? stores.getLive(['warm-up']) : stores.getStoreFeatures(['warm-up'], Date.now()),
    geo.trips(here, [{ id: 'warm-up', location: here, radiusKm: 1 }], Date.now()),
  ]);
  for (const r of results)
    if (r.status === 'rejected') logger.warn({ err: r.reason }, 'feature warm-up failed: serving anyway');
}

/** At most this many stores' travel snapshots and live states are cached before a predictor reports ready. */
const WARM_CACHE_STORES = 20_000;
/** Stores per call for their live state: one page of the store service's multi-get. */
const WARM_LIVE_CHUNK = 500;
const WARM_LIVE_DEADLINE_MS = 5_000;

/**
 * Caches the travel snapshot of every store whose profile this process holds, in a few batched calls, so the first
 * real requests find every store's trips cached (one entry per store answers every order time and destination).
 */
async function warmTravel(
  stores: readonly Store[],
  { geo }: Parameters<typeof createPredictorModule>[2],
  logger: Logger,
): Promise<void> {
  if (!geo.warm || stores.length === 0) return;
  const started = Date.now();
  try {
    const held = await geo.warm(stores.map((s) => ({ id: s.storeId, location: s.location })));
    logger.info({ stores: stores.length, held, ms: Date.now() - started }, 'travel snapshots cached');
  } catch (e) {
    logger.warn({ err: e }, 'travel warm-up failed: trips are cached on first use');
  }
}

/**
 * Caches the live state of every store whose profile this process holds, a page per call, so the first real
 * requests do not each wait on the store service (live state stays cached until the store's state changes).
 */
async function warmLive(
  stores: readonly Store[],
  { features }: Parameters<typeof createPredictorModule>[2],
  logger: Logger,
): Promise<void> {
  if (!features || stores.length === 0) return;
  const ids = stores.map((s) => s.storeId);
  const started = Date.now();
  let degraded = 0;
  for (const page of chunks(ids, WARM_LIVE_CHUNK)) {
    const { degradedReasons } = await features.storeFeatures(page, started, {
      deadlineMs: WARM_LIVE_DEADLINE_MS,
    });
    if (degradedReasons.length > 0) degraded++;
  }
  logger.info(
    { stores: ids.length, degradedPages: degraded, ms: Date.now() - started },
    'store live state cached',
  );
}

/** Synthetic ETAs a predictor answers before it reports ready, and the most time it spends on them. */
const WARM_UP_PREDICTIONS = 3_000;
const WARM_UP_BUDGET_MS = 8_000;
/**
 * Warm-up workers, and the answers before each next one joins: a ramp the store and geo JITs can follow. Two are
 * enough to compile every path. Sixteen, from two predictors at once on two cores, starved the store and geo
 * processes of CPU: their answers came after the client's deadline and the predictors turned ready with open
 * breakers.
 */
const WARM_UP_WORKERS = 2;
const WARM_UP_RAMP_ANSWERS = 25;
/**
 * A warm-up ETA waits this long for its features, so a slow answer is waited for rather than abandoned while the
 * worker sends the next call on top of it (calls piled up past the client's deadline).
 */
const WARM_UP_FEATURE_DEADLINE_MS = 1_000;
/**
 * One warm-up ETA in this many is for a closed store (the refusal's path); the rest are for open ones, the path
 * real traffic takes (when geo was asked before the profile said closed, a warm-up of mostly closed hours sent geo
 * hundreds of calls at once).
 */
const WARM_UP_CLOSED_EVERY = 16;
/** Warm-up ends on this many whole answers in a row: its last features came on time, its breakers closed. */
const WARM_UP_CLEAN_STREAK = 100;

/** An answer that says the path is not warm yet: degraded features, or a dependency that failed or was late. */
function unclean(result: EtaResult): boolean {
  if (result.ok) return result.value.degraded;
  return result.error.code === 'upstream_unavailable' || result.error.code === 'deadline_exceeded';
}

/**
 * Runs synthetic ETAs through the serving path (features through the process's caches, the store and geo
 * services, the model) before the predictor reports ready: the JIT compiles the hot path, the connection pools
 * fill and live state and trips are cached, so the first real requests do not pay for any of it. Workers join one
 * by one, so store and geo processes as cold as this one are not met with a burst; and it ends only after a streak
 * of whole answers, so features that were late at first are on time before the predictor reports ready (within
 * the budget). Over the stores whose profiles this process holds (the store client preloads them).
 */
async function warmPredictions(
  stores: readonly Store[],
  predict: (request: EtaRequest) => Promise<EtaResult>,
  logger: Logger,
): Promise<void> {
  const started = Date.now();
  const now = Date.now();
  let next = 0;
  let answered = 0;
  let clean = 0;
  const inBudget = (): boolean => Date.now() - started < WARM_UP_BUDGET_MS;
  const warming = (): boolean =>
    (answered < WARM_UP_PREDICTIONS || clean < WARM_UP_CLEAN_STREAK) && inBudget();
  const worker = async (k: number): Promise<void> => {
    while (answered < k * WARM_UP_RAMP_ANSWERS && warming()) await sleep(5);
    while (warming()) {
      const i = next++;
      const store = stores[i % stores.length]!;
      // At the hours of the day the store is open, and now and then one it is closed.
      const orderedAtMs = now + (i % 24) * 3_600_000;
      if (isOpen(store, orderedAtMs) === (i % WARM_UP_CLOSED_EVERY === 0)) continue;
      // Around the store, inside its radius.
      const km = store.deliveryRadiusKm * 0.5 * ((i % 7) / 7);
      const angle = i * 2.399;
      const destination = offsetKm(store.location, km * Math.sin(angle), km * Math.cos(angle));
      let result: EtaResult;
      try {
        result = await predict({
          storeId: store.storeId,
          destination,
          orderedAtMs,
          items: 1 + (i % 5),
          subtotal: 10 + (i % 40),
        });
      } catch (e) {
        result = { ok: false, error: e instanceof EtaError ? e : new EtaError('internal', String(e)) };
      }
      answered++;
      clean = unclean(result) ? 0 : clean + 1;
    }
  };
  await Promise.all(Array.from({ length: WARM_UP_WORKERS }, (_, k) => worker(k)));
  const log = clean >= WARM_UP_CLEAN_STREAK ? logger.info : logger.warn;
  log.call(
    logger,
    { predictions: answered, cleanStreak: clean, ms: Date.now() - started },
    clean >= WARM_UP_CLEAN_STREAK
      ? 'predictor warmed up'
      : 'predictor warm-up ran out of time with its features still degraded: serving anyway',
  );
}

/**
 * Warm-up ETAs over this process's own `/internal/predict/batch`, answered by its warm-up predictor
 * (`WARM_UP_HEADER`). A call that fails, the route's refusal included, counts as a late answer: the warm-up then
 * runs out of time and says so, rather than ending on answers that never passed the route.
 */
function ownRoute(
  origin: string,
  token: string | undefined,
): { predict: (request: EtaRequest) => Promise<EtaResult>; close: () => Promise<void> } {
  const client = new PredictorClient(origin, WARM_UP_BUDGET_MS, {
    connections: WARM_UP_WORKERS,
    ...(token ? { internalToken: token } : {}),
  });
  const call = { headers: { [WARM_UP_HEADER]: '1' } };
  return {
    predict: (request) =>
      client.predict(request, call).catch((e: unknown) => ({
        ok: false,
        error: new EtaError('upstream_unavailable', `the predictor's own route: ${(e as Error).message}`),
      })),
    close: () => client.close(),
  };
}

export interface PredictorProvides {
  predictor: Predictor;
  /** An ETA with its feature vector and contributions (the console's "why"). */
  explain: (request: EtaRequest) => Promise<EtaExplanation>;
  /** Open Inference Protocol v2 of the model in this process; absent when the predictors are remote. */
  oip?: Routes;
}

declare module '../platform/module-definition.js' {
  interface ModuleProvides {
    predictor: PredictorProvides;
  }
}

interface PredictorModuleConfig {
  predictor: PredictorConfig;
  rollout: RolloutConfig;
  events: EventsConfig;
  cache: { redisUrl: string };
  /** How gateways spread calls over replicas (the gateway section's settings). */
  gateway: BalancerSettings;
  topology: {
    predictorUrls: string[];
    predictorDiscovery: 'none' | 'dns';
    predictorDiscoveryIntervalMs: number;
  };
}

export const predictorModule = defineModule<PredictorModuleConfig, PredictorProvides>({
  name: 'predictor',
  description: 'model serving: features, the model, Open Inference Protocol v2',
  needs: ['cache', 'registry', 'store', 'geo'],
  uses: ['events'],
  port: (config) => config.predictor.port,
  init({ config, ctx, get, find, runs, internalToken }) {
    const { registry, database } = get('registry');
    const store = get('store');
    const shadow = shadowLog(config, ctx, find('events'));
    const module = createPredictorModule(ctx, config.predictor, {
      registry,
      registryDatabase: database,
      stores: store.source,
      features: store.features,
      geo: get('geo'),
      cache: get('cache'),
      rollout: config.rollout,
      ...(shadow.log ? { shadowSink: eventLogShadowSink(shadow.log, ctx.logger) } : {}),
    });
    // OIP v2 is internal on a predictor process; on a gateway's process it is public, behind a predict key.
    const internal = [...module.routes, ...(runs('gateway') ? [] : [module.oip])];
    return {
      provides: { predictor: module.predictor, explain: module.explain, oip: module.oip },
      services: [...shadow.services, module.service],
      internalRoutes: internal.map((plugin) => ({ plugin })),
      warmUp: (origins) =>
        module.warmUp(origins.internal ? { origin: origins.internal, token: internalToken } : undefined),
    };
  },
  remote: {
    configured: (config) => config.topology.predictorUrls.length > 0,
    client({ config, ctx, internalToken }) {
      const { topology } = config;
      const explain = new ExplainClient(topology.predictorUrls, undefined, internalToken);
      const replica = (url: string, hostHeader?: string): PredictorClient =>
        new PredictorClient(url, config.gateway.predictorTimeoutMs, {
          ...(internalToken ? { internalToken } : {}),
          ...(hostHeader ? { hostHeader } : {}),
        });
      const provides = (predictor: Predictor): PredictorProvides => ({
        predictor,
        explain: (request) => explain.explain(request),
      });
      if (topology.predictorDiscovery !== 'dns') {
        const replicas = topology.predictorUrls.map((url) => ({ name: url, predictor: replica(url) }));
        return {
          provides: provides(new PredictorBalancer(replicas, balancerOptions(config.gateway), ctx.metrics)),
        };
      }
      // One replica per address behind each name (docs/gateway-resilience.md, "Discovering predictor pods").
      const balancer = new PredictorBalancer([], balancerOptions(config.gateway), ctx.metrics, {
        dynamic: true,
      });
      const discovery = new PredictorDiscovery(balancer, {
        urls: topology.predictorUrls,
        intervalMs: topology.predictorDiscoveryIntervalMs,
        logger: ctx.logger,
        client: (endpoint) => replica(endpoint.url, endpoint.hostHeader),
      });
      const service: Service = {
        name: 'predictor-discovery',
        start: () => discovery.start(),
        stop: async () => {
          discovery.stop();
          await balancer.close();
        },
      };
      return { provides: provides(balancer), services: [service] };
    },
  },
});

/**
 * Where shadow comparisons go: the event log, for the accuracy join (events' `appenderOf`): a predictor of its own
 * process appends only to Redis Streams.
 */
function shadowLog(
  config: PredictorModuleConfig,
  ctx: ModuleContext,
  local: EventsProvides | undefined,
): { log: EventLog | undefined; services: Service[] } {
  const appender = appenderOf(config, ctx, local);
  if (!appender.log && config.rollout.shadowSampleRate > 0)
    ctx.logger.warn(
      'shadow comparisons are not logged: a predictor of its own process needs events.backend=redis',
    );
  return appender;
}
