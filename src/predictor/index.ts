export { PredictorClient } from './client.js';
export { predictorConfigSchema, type PredictorConfig } from './config.js';
export { fallbackTrip } from './eta.js';
export { outOfArea, prepPlusRide, unservable, type DegradedReason } from './servable.js';
export { ExplainClient, type EtaExplanation, type FeatureContribution } from './explain.js';
export {
  createPredictorModule,
  predictorModule,
  type PredictorModule,
  type PredictorProvides,
} from './module.js';
export type { ActiveModel } from './model-runtime.js';
export type { BatchEtaRequest, EtaPrediction, EtaRequest, EtaResult, Predictor } from './types.js';
export {
  eventLogShadowSink,
  rolloutConfigSchema,
  type RolloutConfig,
  type ShadowRecord,
  type ShadowSink,
} from './rollout.js';
export {
  balancerOptions,
  PredictorBalancer,
  type BalancerOptions,
  type BalancerSettings,
  type ReplicaPredictor,
} from './replicas/balancer.js';
export {
  endpointsOf,
  lookupAll,
  PredictorDiscovery,
  type Endpoint,
  type Resolve,
} from './replicas/discovery.js';
