import {
  loadModel,
  train,
  type ModelArtifact,
  type TrainParams,
  type TrainProgress,
} from '../../model/index.js';
import { daypart, FEATURE_NAMES, RANGE_SEGMENT_COLUMNS, storeZone } from '../../features/index.js';
import { ZoneSpeedTable, type GeoConfig, type ZoneSpeedTableJson } from '../../geo/index.js';
import type { FeatureProfile, GoldenSet, ModelRecord, ModelRegistry } from '../../registry/index.js';
import { baselineMae, evaluateModel } from './evaluate.js';
import { featureProfile, goldenSet } from './profile.js';
import {
  buildTrainingTable,
  learnSpeedsBefore,
  sliceRows,
  type TrainingTable,
} from '../etl/training-table.js';
import type { OrderHistory } from '../history.js';

/** Quantile boosting for p10/p50/p90, sized so that the first start trains in well under a minute on 2 cores. */
export const DEFAULT_TRAIN_PARAMS: Partial<TrainParams> = {
  objective: 'quantile',
  quantiles: [0.1, 0.5, 0.9],
  nTrees: 300,
  learningRate: 0.1,
  maxDepth: 6,
  growth: 'depthwise',
  minChildWeight: 20,
  maxBins: 63,
  earlyStoppingRounds: 20,
  calibrate: true,
  seed: 1,
};

export type TrainStage = 'speeds' | 'features' | 'train' | 'evaluate' | 'register';

export interface PipelineProgress {
  stage: TrainStage;
  message: string;
  /** Boosting progress, during the `train` stage. */
  boosting?: TrainProgress;
}

export interface TrainFromHistoryOptions {
  params?: Partial<TrainParams>;
  /** Shares of orders, by creation time, for training and validation; the rest is the test hold-out. */
  split?: { train: number; valid: number };
  geo?: Partial<GeoConfig>;
  onProgress?: (p: PipelineProgress) => void;
  /** Builds the table with these speeds; default: the TypeScript replay. The lake path passes the SQL ETL. */
  buildTable?: (speeds: ZoneSpeedTable) => Promise<TrainingTable>;
  /** Rows only for orders created in [fromMs, toMs): a window of a longer history. */
  window?: { fromMs: number; toMs: number };
  /**
   * Drop `history.riderPings` once the table is built. They are most of a history's memory (about 13 pings an
   * order, 29 bytes each) and nothing after the table reads them, so a caller that is done with them lets boosting
   * run without them.
   */
  releasePings?: boolean;
  /** Called with the table once it is built, while the rider pings are still there (the order legs train here). */
  withTable?: (table: TrainingTable) => Promise<void>;
}

export interface TrainedModel {
  artifact: ModelArtifact;
  metrics: Record<string, number>;
  /** The speeds the features were computed with; geo must serve the same table. */
  speeds: ZoneSpeedTableJson;
  trainEndMs: number;
  validEndMs: number;
  /** Rows [nValid, nRows) of `table` are the hold-out every comparison uses. */
  table: TrainingTable;
  nTrain: number;
  nValid: number;
  golden: GoldenSet;
  profile: FeatureProfile;
}

/**
 * Time-ordered split by creation time, zone speeds from the training window only, features replayed as of each
 * order, quantile boosting with early stopping on the validation window, metrics on the untouched test window.
 */
export async function trainFromHistory(
  history: OrderHistory,
  options: TrainFromHistoryOptions = {},
): Promise<TrainedModel> {
  const progress = options.onProgress ?? (() => undefined);
  const split = options.split ?? { train: 0.7, valid: 0.15 };
  const w = options.window ?? { fromMs: Number.NEGATIVE_INFINITY, toMs: Number.POSITIVE_INFINITY };
  const O = history.orders;
  const inWindow = (i: number): boolean =>
    !Number.isNaN(O.deliveredAtMs[i]!) && O.createdAtMs[i]! >= w.fromMs && O.createdAtMs[i]! < w.toMs;
  let n = 0;
  for (let i = 0; i < O.length; i++) if (inWindow(i)) n++;
  if (n < 50) throw new RangeError(`too few delivered orders to train on: ${n}`);
  const sorted = new Float64Array(n);
  for (let i = 0, k = 0; i < O.length; i++) if (inWindow(i)) sorted[k++] = O.createdAtMs[i]!;
  sorted.sort();
  const trainEndMs = sorted[Math.floor(sorted.length * split.train)]!;
  const validEndMs = sorted[Math.floor(sorted.length * (split.train + split.valid))]!;

  const speedsJson = learnSpeedsBefore(history, trainEndMs, options.geo);
  const speeds = ZoneSpeedTable.fromJSON(speedsJson);
  if (!speeds.ok) throw new Error(`learned speeds are invalid: ${speeds.error}`);
  progress({
    stage: 'speeds',
    message: `zone speeds from ${speedsJson.trips} rides in ${Object.keys(speedsJson.zones).length} zones`,
  });

  const table = options.buildTable
    ? await options.buildTable(speeds.value)
    : buildTrainingTable(history, { speeds: speeds.value, geo: options.geo, ...options.window });
  await options.withTable?.(table);
  if (options.releasePings) delete history.riderPings;
  const nTrain = lowerBound(table.createdAtMs, trainEndMs);
  const nValid = lowerBound(table.createdAtMs, validEndMs);
  progress({
    stage: 'features',
    message: `${table.nRows} rows: ${nTrain} train, ${nValid - nTrain} valid, ${table.nRows - nValid} test`,
  });

  const params = withRangeSegments({ ...DEFAULT_TRAIN_PARAMS, ...options.params });
  const valid = {
    ...sliceRows(table, nTrain, nValid),
    ...(params.segmentColumns?.length
      ? { segments: rangeSegmentLabels(history, table, nTrain, nValid) }
      : {}),
  };
  const artifact = await train(withRidersHidden(sliceRows(table, 0, nTrain)), valid, params, (p) =>
    progress({ stage: 'train', message: `${p.output} tree ${p.iteration}`, boosting: p }),
  );

  const loaded = loadModel(artifact);
  if (!loaded.ok) throw new Error(`the trained model does not load: ${loaded.error.message}`);
  const metrics = {
    ...evaluateModel(loaded.value, table, nValid, table.nRows),
    baseline_mae_s: baselineMae(table, nValid, table.nRows),
    n_train: nTrain,
    n_valid: nValid - nTrain,
  };
  progress({ stage: 'evaluate', message: formatMetrics(metrics) });
  return {
    artifact,
    metrics,
    speeds: speedsJson,
    trainEndMs,
    validEndMs,
    table,
    nTrain,
    nValid,
    golden: goldenSet(loaded.value, table, nValid, table.nRows),
    profile: featureProfile(table, 0, nTrain),
  };
}

/** One training row in this many has its rider count hidden (`withRidersHidden`). */
export const RIDERS_HIDDEN_EVERY = 50;
const RIDERS = FEATURE_NAMES.indexOf('riders_available');

/**
 * The training rows with the rider count hidden in one row in `RIDERS_HIDDEN_EVERY`, as serving sees it while the
 * rider feed is down or before a process has heard any rider: the model learns what to answer without it instead of
 * extrapolating from counts it always had (a range of -897 to 630 s was served so). Only the rows the learner sees:
 * validation, evaluation and the drift profile keep the table as it is.
 */
export function withRidersHidden<T extends { columns: Float64Array[] }>(rows: T): T {
  const riders = Float64Array.from(rows.columns[RIDERS]!);
  for (let r = RIDERS_HIDDEN_EVERY >> 1; r < riders.length; r += RIDERS_HIDDEN_EVERY) riders[r] = Number.NaN;
  return { ...rows, columns: rows.columns.map((c, f) => (f === RIDERS ? riders : c)) };
}

/**
 * Calibrates ranges per segment (the store's zone, then the daypart) whenever the model can take it: calibrated,
 * non-crossing quantiles. The predictor serves each answer's range through its segment (docs/model.md).
 */
function withRangeSegments(params: Partial<TrainParams>): Partial<TrainParams> {
  if (params.segmentColumns !== undefined) return params;
  const segmentable =
    params.objective === 'quantile' &&
    params.calibrate === true &&
    (params.quantileMethod ?? 'offsets') === 'offsets';
  return segmentable ? { ...params, segmentColumns: [...RANGE_SEGMENT_COLUMNS] } : params;
}

/** Zone and daypart labels of rows [from, to), as the predictor labels a request (src/features/segments.ts). */
function rangeSegmentLabels(
  history: OrderHistory,
  table: TrainingTable,
  from: number,
  to: number,
): Record<string, string[]> {
  const zoneOf = new Map(history.stores.map((s) => [s.storeId, storeZone(s.location)]));
  const hour = table.columns[table.spec.findIndex((s) => s.name === 'hour_local')]!;
  const O = history.orders;
  const zone: string[] = [];
  const part: string[] = [];
  for (let r = from; r < to; r++) {
    const order = table.orderIndex[r]!;
    zone.push(zoneOf.get(O.storeIds[O.store[order]!]!) ?? '');
    part.push(daypart(hour[r]!));
  }
  return { zone, daypart: part };
}

/**
 * Registers the model with its golden set and training profile; it becomes champion only when there is none, so
 * the promotion policy or a person decides any later promotion.
 */
export async function registerTrained(
  registry: ModelRegistry,
  trained: Pick<TrainedModel, 'artifact' | 'metrics' | 'golden' | 'profile'>,
  source: string,
): Promise<ModelRecord> {
  const record = await registry.register(trained.artifact, {
    source,
    metrics: trained.metrics,
    golden: trained.golden,
    profile: trained.profile,
  });
  if ((await registry.resolve('champion')) === undefined) {
    await registry.setAlias('champion', record.version, 'first model');
    return { ...record, aliases: ['champion'] };
  }
  return record;
}

export function formatMetrics(m: Record<string, number>): string {
  const min = (s: number | undefined): string => (s === undefined ? '-' : `${(s / 60).toFixed(2)} min`);
  const pct = (v: number | undefined): string => (v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);
  return [
    `MAE ${min(m.mae_s)} (baseline ${min(m.baseline_mae_s)})`,
    `RMSE ${min(m.rmse_s)}`,
    `within ±5 min ${pct(m.within_5min)}`,
    `within ±10 min ${pct(m.within_10min)}`,
    `p10–p90 coverage ${pct(m.coverage_p10_p90)}, width ${min(m.width_p10_p90_s)}`,
  ].join(', ');
}

function lowerBound(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
