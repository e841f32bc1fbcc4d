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
} from './formats/artifact.js';
export { ARTIFACT_VERSION } from './formats/artifact.js';
export { ModelLoadError, type ModelLoadErrorCode } from './errors.js';
export { modelFromPortable, type Model, type PortableModel } from './inference/model.js';
export { loadModel, parseModel, type LoadResult } from './formats/load.js';
export { train } from './training/train.js';
export { METRICS, mae, rmse, pinball } from './metrics.js';
export { compileModel, portableBuffers } from './formats/portable.js';
export {
  conformityScore,
  conformityScores,
  conformalizeScaled,
  scaledScore,
  scaledScores,
} from './calibration/calibrate.js';
export {
  AdaptiveConformal,
  DEFAULT_ACI_GAMMA,
  DEFAULT_ACI_WINDOW,
  type AdaptiveConformalOptions,
  type AdaptiveConformalState,
} from './calibration/adaptive-calibration.js';
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
} from './calibration/segments.js';
export {
  DEFAULT_DELAY_GAIN,
  DEFAULT_SEGMENT_GAMMA,
  DEFAULT_SEGMENT_WINDOW,
  OnlineSegmentedRanges,
  type OnlineSegmentOptions,
  type OnlineSegmentState,
  type OnlineSegmentSummary,
  type SegmentQuote,
} from './calibration/online-segments.js';
export { mulberry32 } from './rng.js';
