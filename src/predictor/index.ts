export { PredictorClient } from './client.js';
export { predictorConfigSchema, type PredictorConfig } from './config.js';
export { fallbackTrip } from './eta.js';
export { fallbackRange, outOfArea, unservable, type DegradedReason } from './servable.js';
export { ExplainClient, type EtaExplanation, type FeatureContribution } from './explain.js';
export { createPredictorModule, type PredictorModule } from './module.js';
export type { ActiveModel } from './model-runtime.js';
export type { BatchEtaRequest, EtaPrediction, EtaRequest, EtaResult, Predictor } from './types.js';
export { CachedGeo } from './cached-geo.js';
export { FeatureCache, invalidateOnWrite, type StoreFeaturesWithStatus } from './feature-cache.js';
export {
  eventLogShadowSink,
  rolloutConfigSchema,
  type RolloutConfig,
  type ShadowRecord,
  type ShadowSink,
} from './rollout.js';
