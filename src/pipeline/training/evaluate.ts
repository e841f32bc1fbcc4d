import type { Model } from '../../model/index.js';
import type { TrainingTable } from '../etl/training-table.js';

/**
 * Hold-out metrics in seconds and shares: what an ML engineer compares across versions and what the registry
 * records. The range metrics need p10 and p90; a median-only model reports the point metrics alone.
 */
export function evaluateModel(
  model: Model,
  table: TrainingTable,
  from: number,
  to: number,
): Record<string, number> {
  return metricsOf(model.outputNames, predictRange(model, table, from, to), table, from, to);
}

/** The model's outputs for rows [from, to) of the table, row-major (rows × outputs). */
export function predictRange(model: Model, table: TrainingTable, from: number, to: number): Float64Array {
  const n = to - from;
  const nF = table.columns.length;
  const rows = new Float64Array(n * nF);
  for (let f = 0; f < nF; f++) {
    const col = table.columns[f]!;
    for (let i = 0; i < n; i++) rows[i * nF + f] = col[from + i]!;
  }
  const out = new Float64Array(n * model.outputNames.length);
  model.predictBatch(rows, n, out);
  return out;
}

/** Metrics of outputs already predicted for rows [from, to), so callers that keep them predict once. */
export function metricsOf(
  outputNames: readonly string[],
  out: Float64Array,
  table: TrainingTable,
  from: number,
  to: number,
): Record<string, number> {
  const n = to - from;
  const nOut = outputNames.length;
  const p50 = outputNames.indexOf('p50');
  const p10 = outputNames.indexOf('p10');
  const p90 = outputNames.indexOf('p90');
  const mid = p50 >= 0 ? p50 : 0;
  let abs = 0;
  let sq = 0;
  let within5 = 0;
  let within10 = 0;
  let covered = 0;
  let width = 0;
  for (let i = 0; i < n; i++) {
    const y = table.target[from + i]!;
    const e = out[i * nOut + mid]! - y;
    abs += Math.abs(e);
    sq += e * e;
    if (Math.abs(e) <= 300) within5++;
    if (Math.abs(e) <= 600) within10++;
    if (p10 >= 0 && p90 >= 0) {
      const lo = out[i * nOut + p10]!;
      const hi = out[i * nOut + p90]!;
      if (y >= lo && y <= hi) covered++;
      width += hi - lo;
    }
  }
  const metrics: Record<string, number> = {
    n_test: n,
    mae_s: abs / n,
    rmse_s: Math.sqrt(sq / n),
    within_5min: within5 / n,
    within_10min: within10 / n,
  };
  if (p10 >= 0 && p90 >= 0) {
    metrics.coverage_p10_p90 = covered / n;
    metrics.width_p10_p90_s = width / n;
  }
  return metrics;
}

/** The naive quote (declared prep time plus the travel estimate): a trained model must beat it. */
export function baselineMae(table: TrainingTable, from: number, to: number): number {
  const names = table.spec.map((s) => s.name);
  const prep = table.columns[names.indexOf('prep_mean_s')]!;
  const travel = table.columns[names.indexOf('travel_estimate_s')]!;
  let abs = 0;
  for (let i = from; i < to; i++) abs += Math.abs(prep[i]! + travel[i]! - table.target[i]!);
  return abs / Math.max(1, to - from);
}
