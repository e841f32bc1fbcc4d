// Public surface of the GBDT library. Nothing else in src/model is imported from outside it.
export type { FeatureSpec, TrainParams, TrainingData, TrainProgress } from './types.js';
export { DEFAULT_PARAMS } from './types.js';
export type {
  ModelArtifact,
  ArtifactTree,
  ArtifactOutput,
  OutputMetrics,
  Calibration,
  QuantileOffset,
  SegmentCalibration,
  SegmentCell,
} from './artifact.js';
export { ARTIFACT_VERSION } from './artifact.js';
export { ModelLoadError, type ModelLoadErrorCode } from './errors.js';
export { modelFromPortable, type Model, type PortableModel } from './model.js';
export { loadModel, parseModel, type LoadResult } from './load.js';
export { train } from './train.js';
export { METRICS, mae, rmse, pinball } from './metrics.js';
export { compileModel, portableBuffers } from './portable.js';
export {
  conformityScore,
  conformityScores,
  conformalizeScaled,
  scaledScore,
  scaledScores,
} from './calibrate.js';
export {
  AdaptiveConformal,
  DEFAULT_ACI_GAMMA,
  DEFAULT_ACI_WINDOW,
  type AdaptiveConformalOptions,
  type AdaptiveConformalState,
} from './adaptive-calibration.js';
export {
  calibrateSegments,
  DEFAULT_SEGMENT_MIN_ROWS,
  scaleRange,
  segmentLabels,
  SegmentedRanges,
  servedRanges,
  withSegmentCalibration,
  type RangeRows,
  type SegmentInterval,
  type SegmentKey,
  type SegmentOptions,
} from './segments.js';
export {
  DEFAULT_DELAY_GAIN,
  DEFAULT_SEGMENT_GAMMA,
  DEFAULT_SEGMENT_WINDOW,
  OnlineSegmentedRanges,
  type OnlineSegmentOptions,
  type OnlineSegmentState,
  type OnlineSegmentSummary,
  type SegmentQuote,
} from './online-segments.js';
