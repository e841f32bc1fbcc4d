// Public surface of the GBDT library. Nothing else in src/model is imported from outside it.
export type { FeatureSpec, TrainParams, TrainingData, TrainProgress } from './types.js';
export { DEFAULT_PARAMS } from './types.js';
export type { ModelArtifact, ArtifactTree, ArtifactOutput, OutputMetrics, Calibration } from './artifact.js';
export { ModelLoadError, type ModelLoadErrorCode } from './errors.js';
export { modelFromPortable, type Model, type PortableModel } from './model.js';
export { loadModel, parseModel, type LoadResult } from './load.js';
export { train } from './train.js';
export { METRICS, mae, rmse, pinball } from './metrics.js';
export { compileModel, portableBuffers } from './portable.js';
export { conformityScore, conformityScores } from './calibrate.js';
export {
  AdaptiveConformal,
  DEFAULT_ACI_GAMMA,
  DEFAULT_ACI_WINDOW,
  type AdaptiveConformalOptions,
} from './adaptive-calibration.js';
