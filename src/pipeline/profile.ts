import type { Model } from '../model/index.js';
import { histogramBin, type FeatureProfile, type GoldenSet } from '../registry/index.js';
import type { TrainingTable } from './training-table.js';

const BINS = 10;
const GOLDEN_ROWS = 32;

/**
 * Each feature's training distribution, for drift: decile edges of the numeric features (ties collapse), one bin per
 * category code for categorical ones. Stored with the version at registration; predictors compare live traffic.
 */
export function featureProfile(table: TrainingTable, from: number, to: number): FeatureProfile {
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
    for (const v of col) counts[histogramBin(edges, v)]!++;
    const n = Math.max(1, col.length);
    return { name: spec.name, edges, shares: counts.map((c) => c / n) };
  });
  return { rows: to - from, features };
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
