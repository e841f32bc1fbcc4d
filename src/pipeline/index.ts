export { pipelineConfigSchema, type PipelineConfig } from './config.js';
export { ensureChampion, type EnsureChampionOptions, type EnsureChampionResult } from './ensure-champion.js';
export { baselineMae, evaluateModel } from './evaluate.js';
export {
  DEFAULT_TRAIN_PARAMS,
  formatMetrics,
  registerTrained,
  trainFromHistory,
  type PipelineProgress,
  type TrainedModel,
  type TrainFromHistoryOptions,
  type TrainStage,
} from './train-model.js';
export {
  buildTrainingTable,
  learnSpeedsBefore,
  ridesBefore,
  sliceRows,
  type OrderHistory,
  type TrainingTable,
  type TrainingTableOptions,
} from './training-table.js';
