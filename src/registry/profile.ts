import type { FeatureHistogram } from './types.js';

/** The bin of a value under a histogram's edges: the first edge it does not exceed, the open top bin, or missing. */
export function histogramBin(edges: readonly number[], value: number): number {
  if (Number.isNaN(value)) return edges.length + 1;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value <= edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Population stability index of `counts` (live) against the histogram's training shares:
 * Σ (live − train) · ln(live / train), with empty bins floored so one unseen bin does not make it infinite.
 * Under 0.1 is stable, 0.1–0.25 a shift worth a look, above 0.25 a different population.
 */
export function populationStability(histogram: FeatureHistogram, counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return 0;
  const floor = 1e-4;
  let psi = 0;
  for (let i = 0; i < histogram.shares.length; i++) {
    const expected = Math.max(histogram.shares[i]!, floor);
    const actual = Math.max((counts[i] ?? 0) / total, floor);
    psi += (actual - expected) * Math.log(actual / expected);
  }
  return psi;
}

/** Hours in a week: the time-conditioned drift histograms are indexed by local hour of week. */
export const HOURS_OF_WEEK = 168;

/** Local hour of week of a feature row: Monday 0 … Sunday 6, times 24, plus the hour; -1 when either is missing. */
export function hourOfWeek(weekday: number, hour: number): number {
  if (!Number.isFinite(weekday) || !Number.isFinite(hour)) return -1;
  const h = Math.floor(weekday) * 24 + Math.floor(hour);
  return h >= 0 && h < HOURS_OF_WEEK ? h : -1;
}
