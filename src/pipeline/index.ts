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
export { csvData, readMapping, type CsvMapping, type TimeSpec, type ValueSpec } from './etl/csv-mapping.js';
export { openDuck, type Duck } from './etl/duckdb.js';
export {
  ensureChampion,
  type EnsureChampionOptions,
  type EnsureChampionResult,
} from './training/ensure-champion.js';
export { ewmaBlock, trainingRowsSql } from './etl/etl-sql.js';
export { baselineMae, evaluateModel } from './training/evaluate.js';
export {
  flattenEvent,
  historyToEvents,
  SHADOW_EVENT,
  type FlatEvent,
  type LogEvent,
} from './etl/history-events.js';
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
} from './etl/lake.js';
export { LakeWriter, type LakeWriterOptions, type LakeWriterStatus } from './etl/lake-writer.js';
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
} from './promotion/policy.js';
export { featureProfile, goldenSet } from './training/profile.js';
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
} from './promotion/promotion.js';
export type { OrderHistory } from './history.js';
export type { RunReport } from './report/report.js';
export {
  newRunId,
  reportsDirOf,
  runTraining,
  type TrainingData,
  type TrainingRunOptions,
  type TrainingRunResult,
} from './training/run.js';
export {
  countLakeOrders,
  lakeOnlyData,
  LakeTooSmallError,
  parquetData,
  simulatedData,
} from './etl/sources.js';
export { buildTrainingTableSql, historyFromEvents, prepareEtl } from './etl/sql-training-table.js';
export {
  DEFAULT_TRAIN_PARAMS,
  formatMetrics,
  registerTrained,
  trainFromHistory,
  type PipelineProgress,
  type TrainedModel,
  type TrainFromHistoryOptions,
  type TrainStage,
} from './training/train-model.js';
export {
  buildTrainingTable,
  learnSpeedsBefore,
  ridesBefore,
  sliceRows,
  type TrainingTable,
  type TrainingTableOptions,
} from './etl/training-table.js';
export { CronExpression } from './schedule/cron.js';
export {
  createPipelineModule,
  pipelineModule,
  type PipelineModule,
  type PipelineModuleDeps,
} from './module.js';
export { accuracyModule, type AccuracyProvides } from './accuracy/module.js';
export { scheduledRun, type ScheduledJobSpec, type ScheduledRunSummary } from './schedule/scheduled-run.js';
export { shadowFromLake } from './promotion/shadow.js';
export {
  orderSnapshots,
  trainOrderLegs,
  type LifeSnapshot,
  type SnapshotOptions,
  type TrainedOrderLegs,
  type TrainOrderLegsOptions,
} from './training/order-legs.js';
