// The live ETA of an order through its life (issue 15): three leg models, their combination and calibration.
export {
  LEG_NAMES,
  LEG_STAGES,
  LIVE_STAGES,
  type LegName,
  type LegQuantiles,
  type LegStage,
  type LiveStage,
  type OrderSnapshot,
  type RemainingEta,
} from './types.js';
export { LEG_FEATURE_COUNT, LEG_FEATURE_SPEC, LEG_FEATURE_VERSION, legFeatures } from './features.js';
export {
  LEGS_ARTIFACT_KIND,
  LEGS_ARTIFACT_VERSION,
  LEGS_LEFT,
  LegsArtifactError,
  OrderLegs,
  type OrderLegsArtifact,
} from './legs-model.js';
export {
  calibratedLevel,
  calibratedProbability,
  combineLegs,
  fitStageCalibration,
  PIT_LEVELS,
  rawCdf,
  rawQuantile,
  SAMPLES,
  type StageCalibration,
} from './distribution.js';
