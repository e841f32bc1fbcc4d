import { mulberry32 } from '../../model/index.js';
import type { LegQuantiles } from './types.js';

/**
 * How the legs left combine into one distribution of the remaining time, and how that distribution is calibrated.
 *
 * Each leg's model gives p10/p50/p90. Its distribution is read as a split normal through them (normal below the
 * median with the p10 side's spread, above with the p90 side's, never below 0): the three quantiles are exact, the
 * tails are a guess that the calibration below corrects. The remaining time is the sum of the legs left, taken as
 * independent, by a fixed Latin hypercube of SAMPLES draws: leg j's k-th draw is its quantile at
 * (PERM[j][k] + 0.5) / SAMPLES. No random state, so the same inputs give the same answer, and it costs SAMPLES
 * additions per leg and one sort.
 */
export const SAMPLES = 128;
/** Φ⁻¹(0.9): a split normal's p90 sits this many (upper) standard deviations above its median. */
const Z90 = 1.2815515655446004;

/** Acklam's rational approximation of Φ⁻¹ (relative error < 1.2e-9): the grid only, never on the hot path. */
function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/** Standard-normal scores of the grid, divided by Z90: a leg's draw k is p50 + GRID[k]·(p90 − p50) above. */
const GRID = Float64Array.from({ length: SAMPLES }, (_, k) => normalQuantile((k + 0.5) / SAMPLES) / Z90);

/** Leg j's draws in Latin hypercube order: GRID permuted by a fixed seed (leg 0 in grid order). */
const LEG_GRIDS: Float64Array[] = [0, 1, 2].map((j) => {
  if (j === 0) return GRID;
  const rand = mulberry32(0x1e65 + j);
  const perm = Array.from({ length: SAMPLES }, (_, k) => k);
  for (let k = SAMPLES - 1; k > 0; k--) {
    const m = Math.floor(rand() * (k + 1));
    [perm[k], perm[m]] = [perm[m]!, perm[k]!];
  }
  return Float64Array.from(perm, (k) => GRID[k]!);
});

/** Adds the draws of `legs` (at most 3) into `out` (length SAMPLES) and sorts it. */
export function combineLegs(legs: readonly LegQuantiles[], out: Float64Array): Float64Array {
  out.fill(0);
  for (let j = 0; j < legs.length; j++) {
    const { p10, p50, p90 } = legs[j]!;
    const below = Math.max(0, p50 - p10);
    const above = Math.max(0, p90 - p50);
    const grid = LEG_GRIDS[j]!;
    for (let k = 0; k < SAMPLES; k++) {
      const z = grid[k]!;
      const v = p50 + z * (z < 0 ? below : above);
      out[k]! += v > 0 ? v : 0;
    }
  }
  return out.sort();
}

/**
 * The raw CDF of sorted draws: piecewise linear through (x_k, (k + 0.5)/SAMPLES), extended past the outer draws
 * with the slope of their outer tenth, then clamped to [0, 1].
 */
export function rawCdf(sorted: Float64Array, x: number): number {
  const n = sorted.length;
  const first = sorted[0]!;
  const last = sorted[n - 1]!;
  const tail = Math.max(1, Math.floor(n / 10));
  if (x <= first) {
    const span = sorted[tail]! - first;
    const p = 0.5 / n - (span > 0 ? ((first - x) / span) * (tail / n) : x < first ? 1 : 0);
    return p > 0 ? p : 0;
  }
  if (x >= last) {
    const span = last - sorted[n - 1 - tail]!;
    const p = 1 - 0.5 / n + (span > 0 ? ((x - last) / span) * (tail / n) : x > last ? 1 : 0);
    return p < 1 ? p : 1;
  }
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  const f = b > a ? (x - a) / (b - a) : 0.5;
  return (lo + 0.5 + f) / n;
}

/** The raw quantile at level p: the inverse of `rawCdf`. */
export function rawQuantile(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  const pos = p * n - 0.5;
  const tail = Math.max(1, Math.floor(n / 10));
  if (pos <= 0) {
    const span = sorted[tail]! - sorted[0]!;
    return Math.max(0, sorted[0]! + (pos / tail) * span);
  }
  if (pos >= n - 1) {
    const span = sorted[n - 1]! - sorted[n - 1 - tail]!;
    return sorted[n - 1]! + ((pos - (n - 1)) / tail) * span;
  }
  const k = Math.floor(pos);
  return sorted[k]! + (pos - k) * (sorted[k + 1]! - sorted[k]!);
}

/**
 * Probabilistic (quantile) recalibration of one stage, after Kuleshov et al. 2018: on the calibration split the
 * raw CDF at each outcome, F(y), should be uniform; `pit` holds its empirical quantiles at levels 0, 1/K, ..., 1.
 * The calibrated CDF is G(F(x)) with G the empirical CDF of those values, so the calibrated u-quantile is
 * F⁻¹(pit(u)): the p10–p90 of the calibrated distribution covers 80% of the calibration outcomes, and
 * P(late) = 1 − G(F(promise − now)) is right on average at every level.
 */
export interface StageCalibration {
  /** Calibration outcomes of this stage. */
  rows: number;
  /** Empirical quantiles of F(y) at levels k/(pit.length − 1); nondecreasing, in [0, 1]. */
  pit: number[];
}

export const PIT_LEVELS = 100;

/** Builds a stage's calibration from the raw CDF values of its outcomes (sorted in place). */
export function fitStageCalibration(pits: Float64Array): StageCalibration {
  pits.sort();
  const n = pits.length;
  const pit: number[] = [];
  for (let k = 0; k <= PIT_LEVELS; k++) {
    if (n === 0) {
      pit.push(k / PIT_LEVELS);
      continue;
    }
    const pos = (k / PIT_LEVELS) * (n - 1);
    const i = Math.floor(pos);
    const v = i + 1 < n ? pits[i]! + (pos - i) * (pits[i + 1]! - pits[i]!) : pits[n - 1]!;
    pit.push(Math.round(v * 1e9) / 1e9);
  }
  return { rows: n, pit };
}

/** The calibrated level u's raw level: pit(u), linear between knots. */
export function calibratedLevel(cal: StageCalibration, u: number): number {
  const pos = Math.min(1, Math.max(0, u)) * (cal.pit.length - 1);
  const k = Math.min(cal.pit.length - 2, Math.floor(pos));
  return cal.pit[k]! + (pos - k) * (cal.pit[k + 1]! - cal.pit[k]!);
}

/** G(p): the calibrated probability of a raw CDF value p (the inverse of `calibratedLevel`; ties take their middle). */
export function calibratedProbability(cal: StageCalibration, p: number): number {
  const pit = cal.pit;
  const last = pit.length - 1;
  if (p <= pit[0]!) return 0;
  if (p >= pit[last]!) return 1;
  // first knot > p and last knot < p
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (pit[mid]! < p) lo = mid;
    else hi = mid;
  }
  // pit[lo] < p <= pit[hi]; a run of knots equal to p takes the middle of its levels
  if (pit[hi] === p) {
    let end = hi;
    while (end < last && pit[end + 1] === p) end++;
    return (hi + end) / 2 / last;
  }
  const f = (p - pit[lo]!) / (pit[hi]! - pit[lo]!);
  return (lo + f) / last;
}
