import type { Model } from '../../model/index.js';
import {
  histogramBin,
  hourOfWeek,
  populationStability,
  HOURS_OF_WEEK,
  type FeatureProfile,
  type GoldenSet,
} from '../../registry/index.js';
import type { TrainingTable } from '../etl/training-table.js';

const BINS = 10;
const GOLDEN_ROWS = 32;
const WEEK_MS = 7 * 86_400_000;
/** The drift monitor's defaults: rows a window needs (driftMinRows) and a reference hour needs (minReferenceRows). */
const WINDOW_MIN_ROWS = 500;
const REFERENCE_MIN_ROWS = 200;
/** The PSI line of the textbook (a different population); a calibrated threshold is never below it. */
const BASE_THRESHOLD = 0.25;
/** Head-room over the largest natural PSI seen in training: a held-out day is judged against one fewer day. */
const MARGIN = 1.25;
/** A calibration window grows by whole hours of one day until it holds WINDOW_MIN_ROWS, at most this many. */
const MAX_WINDOW_HOURS = 4;

/** The local-time features a row carries: its hour of week is the key of the time-conditioned histograms. */
const HOUR_FEATURE = 'hour_local';
const WEEKDAY_FEATURE = 'weekday_local';

/**
 * Each feature's training distribution, for drift: decile edges of the numeric features (ties collapse), one bin per
 * category code for categorical ones. Also the bin counts per local hour of week, so live traffic is compared with
 * training rows of the same hours (a window at 20:00 against all 24 hours is a false alarm by construction).
 * Stored with the version at registration; predictors compare live traffic.
 */
export function featureProfile(table: TrainingTable, from: number, to: number): CalibratedProfile {
  const hourCol = table.spec.findIndex((s) => s.name === HOUR_FEATURE);
  const weekdayCol = table.spec.findIndex((s) => s.name === WEEKDAY_FEATURE);
  const timed = hourCol >= 0 && weekdayCol >= 0;
  const how = new Int16Array(Math.max(0, to - from)).fill(-1);
  const howRows = new Array<number>(HOURS_OF_WEEK).fill(0);
  if (timed) {
    const hours = table.columns[hourCol]!;
    const weekdays = table.columns[weekdayCol]!;
    // The first week is warm-up: per-hour-of-week state (the prep EWMA, kitchens, rider positions) starts empty, which
    // live traffic never is. Skipped when the history leaves at least a week after it.
    const start = table.createdAtMs[from] ?? 0;
    const warm = (table.createdAtMs[to - 1] ?? 0) - start >= 2 * WEEK_MS ? start + WEEK_MS : start;
    for (let r = from; r < to; r++) {
      if (table.createdAtMs[r]! < warm) continue;
      const h = hourOfWeek(weekdays[r]!, hours[r]!);
      how[r - from] = h;
      if (h >= 0) howRows[h]!++;
    }
  }
  const byHour: number[][][] = [];
  const rowBins: Int16Array[] = [];
  const features = table.spec.map((spec, f) => {
    const col = table.columns[f]!.subarray(from, to);
    const present = Float64Array.from(col.filter((v) => !Number.isNaN(v))).sort();
    let edges: number[];
    if (spec.type === 'categorical') edges = (spec.categories ?? []).map((_, i) => i);
    else {
      const set = new Set<number>();
      for (let b = 1; b < BINS; b++) {
        const v = present[Math.min(present.length - 1, Math.floor((present.length * b) / BINS))];
        if (v !== undefined) set.add(v);
      }
      edges = [...set].sort((a, b) => a - b);
    }
    const counts = new Array<number>(edges.length + 2).fill(0);
    // Hours without rows stay empty arrays: most of a short history's week is closed, and JSON stays small.
    const perHour: number[][] = Array.from({ length: HOURS_OF_WEEK }, (_, h) =>
      howRows[h]! > 0 ? new Array<number>(edges.length + 2).fill(0) : [],
    );
    const binOf = new Int16Array(col.length);
    rowBins.push(binOf);
    for (let i = 0; i < col.length; i++) {
      const bin = histogramBin(edges, col[i]!);
      binOf[i] = bin;
      counts[bin]!++;
      if (how[i]! >= 0) perHour[how[i]!]![bin]!++;
    }
    byHour.push(perHour);
    const n = Math.max(1, col.length);
    return { name: spec.name, edges, shares: counts.map((c) => c / n) };
  });
  const calibration = timed
    ? calibrateDrift(
        features.map((h) => h.edges.length + 2),
        features.map((h) => h.name),
        how,
        rowBins,
        howRows,
        byHour,
      )
    : undefined;
  return {
    rows: to - from,
    features,
    ...(timed ? { byHourOfWeek: { rows: howRows, counts: byHour } } : {}),
    ...(calibration ? { driftCalibration: calibration } : {}),
  };
}

/**
 * Per-feature PSI thresholds measured on the training data (below), stored in the profile's JSON
 * next to the histograms. Profiles registered before it have none: the drift monitor uses its one threshold.
 */
export interface DriftCalibration {
  /** feature -> PSI above which a live window is drift: max(0.25, margin × the largest natural PSI). */
  thresholds: Record<string, number>;
  /** feature -> the largest PSI of a held-out training day's window against the other days of the same hours. */
  natural_max: Record<string, number>;
  /** feature -> the 99th percentile of the same. */
  natural_p99: Record<string, number>;
  /**
   * Features compared with the same local hour on every weekday (all training days) rather than the same hour of
   * week: those whose day-to-day PSI by hour of week was above 0.25. Their natural PSI is measured that way too.
   */
  pooled_by_hour_of_day?: string[];
  /** Held-out windows measured. */
  windows: number;
  margin: number;
}

export type CalibratedProfile = FeatureProfile & { driftCalibration?: DriftCalibration };

/**
 * How far a feature moves from day to day with nothing changed: each training day's windows (whole hours of one day,
 * grown until they hold the monitor's 500 rows) against the per-hour-of-week profile of the other days
 * (leave-one-day-out), PSI per feature. Live-state features (riders
 * on shift, kitchens, the prep EWMA) swing more between days than a few training days per hour of week capture, so a
 * fixed 0.25 line cries wolf on them; their threshold is what training shows an unchanged city does, with head-room.
 */
function calibrateDrift(
  widths: number[],
  names: string[],
  how: Int16Array,
  rowBins: Int16Array[],
  howRows: number[],
  byHour: number[][][],
): DriftCalibration | undefined {
  // Days: a run of rows with the same weekday (rows are in time order); -1 rows (warm-up, no hour) are skipped.
  const windows: Array<{ rows: number[] }> = [];
  let day: number[][] = [];
  let dayWeekday = -1;
  const flush = (): void => {
    for (let start = 0; start < 24; start++) {
      const rows: number[] = [];
      for (let h = start; h < Math.min(24, start + MAX_WINDOW_HOURS); h++) {
        rows.push(...(day[h] ?? []));
        if (rows.length >= WINDOW_MIN_ROWS) break;
      }
      if (rows.length >= WINDOW_MIN_ROWS && (day[start]?.length ?? 0) > 0) windows.push({ rows });
    }
    day = [];
  };
  for (let i = 0; i < how.length; i++) {
    const h = how[i]!;
    if (h < 0) continue;
    const weekday = Math.floor(h / 24);
    if (weekday !== dayWeekday && day.length > 0) flush();
    dayWeekday = weekday;
    (day[h % 24] ??= []).push(i);
  }
  if (day.length > 0) flush();
  if (windows.length === 0) return undefined;

  // natural[f]: against the same hour of week; pooledNatural[f]: against the same hour of day on every weekday.
  const natural = names.map(() => [] as number[]);
  const pooledNatural = names.map(() => [] as number[]);
  for (const { rows } of windows) {
    // The held-out day's own counts per hour of week, to subtract from the pooled profile.
    const own = new Map<number, { n: number; counts: Float64Array[] }>();
    const dayHours = new Set<number>();
    for (const i of rows) dayHours.add(how[i]!);
    // A window holds whole hours of its day, so these are all of the day's rows in those hours.
    for (const h of dayHours) own.set(h, { n: 0, counts: widths.map((w) => new Float64Array(w)) });
    for (const i of rows) {
      const o = own.get(how[i]!)!;
      o.n++;
      for (let f = 0; f < widths.length; f++) o.counts[f]![rowBins[f]![i]!]!++;
    }
    const observed = widths.map((w) => new Float64Array(w));
    const expected = widths.map((w) => new Float64Array(w));
    const pooled = widths.map((w) => new Float64Array(w));
    let used = 0;
    const covered = new Set<number>();
    const byKey = new Map<number, number>();
    for (const i of rows) {
      const h = how[i]!;
      byKey.set(h, (byKey.get(h) ?? 0) + 1);
    }
    for (const [h, n] of byKey) {
      const o = own.get(h)!;
      // The reference: this hour of week without the held-out day. No fallback to the hour of day here: without one
      // of its ~2 days a thin hour would pool weekdays, and weekday-bound features (zone speeds) would look like drift
      // the live monitor, with every day in, does not see.
      const refRows = howRows[h]! - o.n;
      if (refRows < REFERENCE_MIN_ROWS) continue;
      const ref = (f: number, b: number): number => (byHour[f]![h]![b] ?? 0) - o.counts[f]![b]!;
      const hod = h % 24;
      let hodRows = -o.n;
      for (let d = 0; d < 7; d++) hodRows += howRows[d * 24 + hod]!;
      used += n;
      covered.add(h);
      for (let f = 0; f < widths.length; f++)
        for (let b = 0; b < widths[f]!; b++) {
          expected[f]![b]! += (n * ref(f, b)) / refRows;
          let c = -o.counts[f]![b]!;
          for (let d = 0; d < 7; d++) c += byHour[f]![d * 24 + hod]![b] ?? 0;
          pooled[f]![b]! += (n * c) / hodRows;
        }
    }
    if (used < WINDOW_MIN_ROWS) continue;
    for (const i of rows) {
      if (!covered.has(how[i]!)) continue;
      for (let f = 0; f < widths.length; f++) observed[f]![rowBins[f]![i]!]!++;
    }
    for (let f = 0; f < widths.length; f++) {
      const shares = Array.from(expected[f]!, (e) => e / used);
      natural[f]!.push(populationStability({ name: names[f]!, edges: [], shares }, observed[f]!));
      const pooledShares = Array.from(pooled[f]!, (e) => e / used);
      pooledNatural[f]!.push(
        populationStability({ name: names[f]!, edges: [], shares: pooledShares }, observed[f]!),
      );
    }
  }
  const round = (x: number): number => Math.round(x * 10_000) / 10_000;
  const thresholds: Record<string, number> = {};
  const natural_max: Record<string, number> = {};
  const natural_p99: Record<string, number> = {};
  const pooledByHourOfDay: string[] = [];
  let judged = 0;
  names.forEach((name, f) => {
    // The local hour and weekday are the monitor's matching key, never compared.
    if (name === HOUR_FEATURE || name === WEEKDAY_FEATURE) return;
    const byWeek = natural[f]!.sort((a, b) => a - b);
    judged = byWeek.length;
    if (byWeek.length === 0) return;
    // A feature that swings from day to day past the textbook line against its ~2 days per hour of week is compared
    // with the same hour on every weekday instead: a reference of every training day, which holds that spread.
    let psi = byWeek;
    if (byWeek[byWeek.length - 1]! > BASE_THRESHOLD) {
      pooledByHourOfDay.push(name);
      psi = pooledNatural[f]!.sort((a, b) => a - b);
    }
    const max = psi[psi.length - 1]!;
    natural_max[name] = round(max);
    natural_p99[name] = round(psi[Math.min(psi.length - 1, Math.floor(psi.length * 0.99))]!);
    thresholds[name] = round(Math.max(BASE_THRESHOLD, MARGIN * max));
  });
  if (judged === 0) return undefined;
  return {
    thresholds,
    natural_max,
    natural_p99,
    pooled_by_hour_of_day: pooledByHourOfDay,
    windows: judged,
    margin: MARGIN,
  };
}

/** Rows spread over the hold-out and what this model answers for them: a predictor loading it must agree. */
export function goldenSet(model: Model, table: TrainingTable, from: number, to: number): GoldenSet {
  const rows: number[][] = [];
  const predictions: number[][] = [];
  const step = Math.max(1, Math.floor((to - from) / GOLDEN_ROWS));
  const out = new Float64Array(model.outputNames.length);
  for (let r = from; r < to && rows.length < GOLDEN_ROWS; r += step) {
    const row = table.columns.map((c) => c[r]!);
    model.predict(Float64Array.from(row), out);
    // JSON has no NaN: missing values travel as null and come back as NaN in the predictor.
    rows.push(row);
    predictions.push([...out]);
  }
  return { rows, predictions };
}
