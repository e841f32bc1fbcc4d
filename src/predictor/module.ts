import type { FastifyPluginAsync } from 'fastify';
import type { GeoFeatures } from '../geo/index.js';
import type { ModuleContext, Service } from '../platform/index.js';
import type { ModelRegistry } from '../registry/index.js';
import type { StoreFeatures } from '../store/index.js';
import type { PredictorConfig } from './config.js';
import { EtaPredictor } from './eta.js';
import { ModelRuntime } from './model-runtime.js';
import { oipRoutes } from './oip.js';
import { predictorInternalRoutes } from './routes.js';
import type { Predictor } from './types.js';

export interface PredictorModule {
  service: Service;
  predictor: Predictor;
  runtime: ModelRuntime;
  routes: FastifyPluginAsync[];
}

export function createPredictorModule(
  ctx: ModuleContext,
  config: PredictorConfig,
  deps: { registry: ModelRegistry; stores: StoreFeatures; geo: GeoFeatures },
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
  const predictor = new EtaPredictor({
    runtime,
    stores: deps.stores,
    geo: deps.geo,
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
  return { service, predictor, runtime, routes: [predictorInternalRoutes(predictor), oipRoutes(runtime, config.modelName)] };
}
