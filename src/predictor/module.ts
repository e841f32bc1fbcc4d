import type { FastifyPluginAsync } from 'fastify';
import { MODELS_GENERATION, type CacheModule } from '../cache/index.js';
import type { GeoFeatures } from '../geo/index.js';
import type { Logger, ModuleContext, Service } from '../platform/index.js';
import type { ModelRegistry, RegistryDatabase } from '../registry/index.js';
import type { StoreCatalog, StoreFeatures } from '../store/index.js';
import type { PredictorConfig } from './config.js';
import { Value } from 'typebox/value';
import { DriftMonitor } from './drift.js';
import { EtaPredictor } from './eta.js';
import { Rollout, rolloutConfigSchema, type RolloutConfig, type ShadowSink } from './rollout.js';
import { CachedGeo } from './cached-geo.js';
import { FeatureCache } from './feature-cache.js';
import { explainEta, explainRoutes, type EtaExplanation } from './explain.js';
import { ModelRuntime } from './model-runtime.js';
import { OnlineRangesFollower } from './online-ranges.js';
import { oipRoutes } from './oip.js';
import { predictorInternalRoutes } from './routes.js';
import type { EtaRequest, Predictor } from './types.js';

export interface PredictorModule {
  service: Service;
  predictor: Predictor;
  runtime: ModelRuntime;
  /** Internal routes (`/internal/predict/*`), for gateways and consoles of other processes. */
  routes: FastifyPluginAsync[];
  /** Open Inference Protocol v2 (`/v2/*`): internal on a predictor process, behind a predict key on a gateway's. */
  oip: FastifyPluginAsync;
  /** An ETA with its feature vector and contributions (the console's "why"). */
  explain: (request: EtaRequest) => Promise<EtaExplanation>;
  /** Present when features are cached: store writes call `invalidate` so profiles are dropped everywhere. */
  features: FeatureCache | undefined;
}

export function createPredictorModule(
  ctx: ModuleContext,
  config: PredictorConfig,
  deps: {
    registry: ModelRegistry;
    /** The registry's database, so the model loader thread reads artifacts itself (off the event loop). */
    registryDatabase?: RegistryDatabase;
    stores: StoreFeatures & Partial<Pick<StoreCatalog, 'getMany'>>;
    geo: GeoFeatures;
    /** Without it (or a store multi-get), features are fetched on every request. */
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
  const { cache, stores } = deps;
  const features =
    cache && stores.getMany
      ? new FeatureCache({
          stores,
          profiles: (ids) => stores.getMany!(ids),
          profileCache: cache.cacheFor('store-profiles'),
          liveCache: cache.cacheFor('store-live'),
          deadlineMs: config.featureDeadlineMs,
          logger,
        })
      : undefined;
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
    ...(features ? { features } : {}),
    geo: cache ? new CachedGeo(deps.geo, cache.cacheFor('geo-trips'), cache.keys) : deps.geo,
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
      await warmFeatureConnections(deps.stores, deps.geo, logger);
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
  return {
    service,
    predictor,
    runtime,
    routes: [predictorInternalRoutes(predictor), explainRoutes(predictor)],
    oip: oipRoutes(runtime, config.modelName),
    explain: (request) => explainEta(predictor, request),
    features,
  };
}

/**
 * Opens the connections to store and geo (and compiles their paths) before the predictor reports ready, so the
 * first real request does not spend its feature deadline on TCP handshakes and answer degraded.
 */
async function warmFeatureConnections(
  stores: StoreFeatures,
  geo: GeoFeatures,
  logger: Logger,
): Promise<void> {
  const here = { lat: 0, lng: 0 };
  const results = await Promise.allSettled([
    stores.getStoreFeatures(['warm-up'], Date.now()),
    geo.trips(here, [{ id: 'warm-up', location: here, radiusKm: 1 }], Date.now()),
  ]);
  for (const r of results)
    if (r.status === 'rejected') logger.warn({ err: r.reason }, 'feature warm-up failed: serving anyway');
}
