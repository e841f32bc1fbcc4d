import type { Calibration } from './artifact.js';

/** How far y falls outside [lo, hi]: positive outside, negative inside (the CQR conformity score). */
export function conformityScore(y: number, lo: number, hi: number): number {
  return Math.max(lo - y, y - hi);
}

/** Conformity scores of rows in order, e.g. the validation split's for `AdaptiveConformal`. */
export function conformityScores(
  target: ArrayLike<number>,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
): Float64Array {
  const n = target.length;
  if (lo.length !== n || hi.length !== n)
    throw new RangeError(
      `conformity scores: ${n} targets but ${lo.length} lower and ${hi.length} upper bounds`,
    );
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) scores[i] = conformityScore(target[i]!, lo[i]!, hi[i]!);
  return scores;
}

/**
 * Index into n ascending scores of the conformal quantile at `level`: ceil((n+1)·level)/n, clamped to the
 * scores. The clamp at n−1 stands in for the infinite quantile that exact CQR would give a level above n/(n+1).
 */
export function conformalRank(n: number, level: number): number {
  return Math.min(n - 1, Math.max(0, Math.ceil((n + 1) * level) - 1));
}

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
  const scores = conformityScores(target, lo, hi);
  const n = scores.length;
  let inside = 0;
  for (let i = 0; i < n; i++) if (scores[i]! <= 0) inside++;
  scores.sort();
  const adjustment = n > 0 ? scores[conformalRank(n, nominal)]! : 0;
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
