import type { Calibration } from '../formats/artifact.js';

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

/**
 * Caps a scaled score where the range has no room on the outcome's side (a zero distance to the median): such a
 * miss is counted, but one row must not stretch a window's quantile to infinity.
 */
export const MAX_SCALED_SCORE = 1e6;

/**
 * The conformity score of a non-crossing range: how many times its distance from the median, on the outcome's
 * side, y lies from the median. Never negative, so the conformal factor is ≥ 0 and [m − f·(m − lo), m + f·(hi − m)]
 * always keeps lo ≤ m ≤ hi; y is inside exactly when the score is ≤ f. A side the range does not open (crossed
 * inputs count as closed) scores MAX_SCALED_SCORE for any y beyond the median on it.
 */
export function scaledScore(y: number, lo: number, median: number, hi: number): number {
  if (y === median) return 0;
  const gap = y > median ? hi - median : median - lo;
  const distance = Math.abs(y - median);
  return gap > 0 ? Math.min(MAX_SCALED_SCORE, distance / gap) : MAX_SCALED_SCORE;
}

/** Scaled scores of rows in order (see `scaledScore`). */
export function scaledScores(
  target: ArrayLike<number>,
  lo: ArrayLike<number>,
  median: ArrayLike<number>,
  hi: ArrayLike<number>,
): Float64Array {
  const n = target.length;
  if (lo.length !== n || median.length !== n || hi.length !== n)
    throw new RangeError(
      `scaled scores: ${n} targets but ${lo.length} lower, ${median.length} median and ${hi.length} upper values`,
    );
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) scores[i] = scaledScore(target[i]!, lo[i]!, median[i]!, hi[i]!);
  return scores;
}

/** The conformal quantile at `level` of scores (sorted in place), or `empty` when there are none. */
export function conformalQuantile(scores: Float64Array, level: number, empty: number): number {
  if (scores.length === 0) return empty;
  scores.sort();
  return scores[conformalRank(scores.length, level)]!;
}

/** Share of scores at most `bound`. */
export function shareAtMost(scores: ArrayLike<number>, bound: number): number {
  let inside = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i]! <= bound) inside++;
  return scores.length > 0 ? inside / scores.length : 0;
}

/**
 * CQR with the scaled score, for non-crossing models: the factor is the conformal `nominal` quantile of the
 * validation rows' scaled scores against the raw range, so [m − f·(m − lo), m + f·(hi − m)] covers `nominal` on
 * exchangeable data (the same argument as additive CQR: y is inside exactly when its score is ≤ f). Scaling,
 * rather than shifting, keeps every quantile on its side of the median: a shift by a negative adjustment would
 * push a narrow side across it.
 */
export function conformalizeScaled(
  target: ArrayLike<number>,
  lo: ArrayLike<number>,
  median: ArrayLike<number>,
  hi: ArrayLike<number>,
  nominal: number,
  names: { lower: string; center: string; upper: string },
): Calibration {
  const scores = scaledScores(target, lo, median, hi);
  const before = shareAtMost(scores, 1);
  const factor = conformalQuantile(scores, nominal, 1);
  return {
    method: 'cqr',
    score: 'scaled',
    center: names.center,
    lower: names.lower,
    upper: names.upper,
    nominal,
    adjustment: factor,
    rows: scores.length,
    validCoverageBefore: before,
    validCoverageAfter: shareAtMost(scores, factor),
  };
}
