export { AccuracyJoin, type AccuracyStats, type AccuracySummary, type Observation } from './accuracy/join.js';
export {
  startAccuracyProjection,
  type AccuracyProjection,
  type AccuracyProjectionOptions,
} from './accuracy/projection.js';
export { storeZone, type ZoneAlarm } from './accuracy/zone-drift.js';
export {
  LAKE_DAYS_AROUND_WINDOW,
  pipelineConfigProblem,
  pipelineConfigSchema,
  policyConfigSchema,
  resolvePipelineSource,
  type PipelineConfig,
  type PipelineSource,
  type PolicyConfig,
} from './config.js';
export { csvData, readMapping, type CsvMapping, type TimeSpec, type ValueSpec } from './csv-mapping.js';
export { openDuck, type Duck } from './duckdb.js';
export { ensureChampion, type EnsureChampionOptions, type EnsureChampionResult } from './ensure-champion.js';
export { ewmaBlock, trainingRowsSql } from './etl-sql.js';
export { baselineMae, evaluateModel } from './evaluate.js';
export {
  flattenEvent,
  historyToEvents,
  SHADOW_EVENT,
  type FlatEvent,
  type LogEvent,
} from './history-events.js';
export {
  compactEventLog,
  dropOldPartitions,
  forgetInLake,
  LAKE_GROUP,
  LAKE_WRITER_LEASE,
  lakeDirOf,
  lakeEventsRelation,
  mergeSmallFiles,
  readLakeCheckpoint,
  writeEventsToLake,
  type CompactionOptions,
  type CompactionResult,
  type EventSource,
  type LakeCheckpoint,
} from './lake.js';
export { LakeWriter, type LakeWriterOptions, type LakeWriterStatus } from './lake-writer.js';
export {
  checkCompatibility,
  describeComparison,
  describeMae,
  judgePromotion,
  liveComparison,
  relative,
  type Comparison,
  type Compatibility,
  type ModelSide,
  type PolicyCheck,
  type PolicyDecision,
  type ShadowSummary,
} from './policy.js';
export { featureProfile, goldenSet } from './profile.js';
export {
  applyRetention,
  auditedRollback,
  compareVersions,
  guardedPromote,
  guardedSetChallenger,
  MIN_FORCE_REASON,
  refusalMessage,
  type PromoteOptions,
  type PromoteOutcome,
  type Retention,
} from './promotion.js';
export type { RunReport } from './report/report.js';
export {
  newRunId,
  reportsDirOf,
  runTraining,
  type TrainingData,
  type TrainingRunOptions,
  type TrainingRunResult,
} from './run.js';
export { countLakeOrders, lakeOnlyData, LakeTooSmallError, parquetData, simulatedData } from './sources.js';
export { buildTrainingTableSql, historyFromEvents, prepareEtl } from './sql-training-table.js';
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
export { CronExpression } from './cron.js';
export { createPipelineModule, type PipelineModule, type PipelineModuleDeps } from './module.js';
export { scheduledRun, type ScheduledJobSpec, type ScheduledRunSummary } from './scheduled-run.js';
export { shadowFromLake } from './shadow.js';
