import type { Model } from '../model/index.js';
import {
  histogramBin,
  hourOfWeek,
  HOURS_OF_WEEK,
  type FeatureProfile,
  type GoldenSet,
} from '../registry/index.js';
import type { TrainingTable } from './training-table.js';

const BINS = 10;
const GOLDEN_ROWS = 32;
const WEEK_MS = 7 * 86_400_000;

/** The local-time features a row carries: its hour of week is the key of the time-conditioned histograms. */
const HOUR_FEATURE = 'hour_local';
const WEEKDAY_FEATURE = 'weekday_local';

/**
 * Each feature's training distribution, for drift: decile edges of the numeric features (ties collapse), one bin per
 * category code for categorical ones. Also the bin counts per local hour of week, so live traffic is compared with
 * training rows of the same hours (a window at 20:00 against all 24 hours is a false alarm by construction).
 * Stored with the version at registration; predictors compare live traffic.
 */
export function featureProfile(table: TrainingTable, from: number, to: number): FeatureProfile {
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
    for (let i = 0; i < col.length; i++) {
      const bin = histogramBin(edges, col[i]!);
      counts[bin]!++;
      if (how[i]! >= 0) perHour[how[i]!]![bin]!++;
    }
    byHour.push(perHour);
    const n = Math.max(1, col.length);
    return { name: spec.name, edges, shares: counts.map((c) => c / n) };
  });
  return {
    rows: to - from,
    features,
    ...(timed ? { byHourOfWeek: { rows: howRows, counts: byHour } } : {}),
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
