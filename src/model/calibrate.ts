import type { Calibration } from './artifact.js';

/**
 * Conformalized quantile regression (Romano et al. 2019): the conformity score of a validation row is
 * how far its target falls outside [lo, hi] (negative inside); widening both ends by the
 * ceil((n+1)·nominal)/n empirical quantile of the scores gives the nominal coverage on exchangeable data.
 */
export function conformalize(
  target: ArrayLike<number>,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
  nominal: number,
  names: { lower: string; upper: string },
): Calibration {
  const n = target.length;
  const scores = new Float64Array(n);
  let inside = 0;
  for (let i = 0; i < n; i++) {
    const y = target[i]!;
    scores[i] = Math.max(lo[i]! - y, y - hi[i]!);
    if (scores[i]! <= 0) inside++;
  }
  scores.sort();
  const k = Math.min(n - 1, Math.max(0, Math.ceil((n + 1) * nominal) - 1));
  const adjustment = n > 0 ? scores[k]! : 0;
  let after = 0;
  for (let i = 0; i < n; i++) if (scores[i]! <= adjustment) after++;
  return {
    method: 'cqr',
    lower: names.lower,
    upper: names.upper,
    nominal,
    adjustment,
    rows: n,
    validCoverageBefore: n > 0 ? inside / n : 0,
    validCoverageAfter: n > 0 ? after / n : 0,
  };
}
