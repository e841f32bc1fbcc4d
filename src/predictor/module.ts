import type { FastifyPluginAsync } from 'fastify';
import type { CacheModule } from '../cache/index.js';
import type { GeoFeatures } from '../geo/index.js';
import type { ModuleContext, Service } from '../platform/index.js';
import type { ModelRegistry } from '../registry/index.js';
import type { StoreCatalog, StoreFeatures } from '../store/index.js';
import type { PredictorConfig } from './config.js';
import { EtaPredictor } from './eta.js';
import { CachedGeo, FeatureCache } from './feature-cache.js';
import { explainEta, explainRoutes, type EtaExplanation } from './explain.js';
import { ModelRuntime } from './model-runtime.js';
import { oipRoutes } from './oip.js';
import { predictorInternalRoutes } from './routes.js';
import type { EtaRequest, Predictor } from './types.js';

export interface PredictorModule {
  service: Service;
  predictor: Predictor;
  runtime: ModelRuntime;
  routes: FastifyPluginAsync[];
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
    stores: StoreFeatures & Partial<Pick<StoreCatalog, 'getMany'>>;
    geo: GeoFeatures;
    /** Without it (or a store multi-get), features are fetched on every request. */
    cache?: CacheModule;
  },
): PredictorModule {
  const logger = ctx.logger.child({ module: 'predictor' });
  const runtime = new ModelRuntime({
    registry: deps.registry,
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
  const predictor = new EtaPredictor({
    runtime,
    stores: deps.stores,
    ...(features ? { features } : {}),
    geo: cache ? new CachedGeo(deps.geo, cache.cacheFor('geo-trips')) : deps.geo,
    featureDeadlineMs: config.featureDeadlineMs,
    logger,
    metrics: ctx.metrics,
  });
  const service: Service = {
    name: 'predictor',
    start: () => runtime.start(),
    stop: async () => runtime.stop(),
    check: () => (runtime.active ? { ready: true } : { ready: false, reason: 'no model loaded' }),
  };
  return {
    service,
    predictor,
    runtime,
    routes: [predictorInternalRoutes(predictor), oipRoutes(runtime, config.modelName), explainRoutes(predictor)],
    explain: (request) => explainEta(predictor, request),
    features,
  };
}
