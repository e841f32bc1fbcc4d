import type { Calibration } from '../formats/artifact.js';
import { conformalRank, conformityScore } from './calibrate.js';

/**
 * γ sets how fast the miscoverage level moves. Each outcome moves α by γ·(target − err), so α forgets the
 * past over about 1/γ outcomes, and under exchangeable data it jitters with a standard deviation of about
 * sqrt(γ·α(1−α)/2). Gibbs & Candès (2021) use 0.005 in all their experiments: for p10–p90 (α = 0.2) that is a
 * memory of ~200 deliveries and ~2 points of jitter in the coverage aimed at, and their bound
 * |mean err − α| ≤ (max(α₁, 1−α₁) + γ)/(γT) falls under 2 points after ~8,000 outcomes.
 *
 * Outcomes of deliveries come back late, which puts a delay in that loop: with D ranges given whose outcome is
 * not back yet, α keeps moving for D outcomes before the first wider (or narrower) range is judged. Keep γ·D
 * under about 0.5 (0.005 allows ~100 orders in flight per instance); at γ·D = 5 α overshoots and oscillates,
 * and on a synthetic stream coverage fell to ~0.63. A busier stream wants γ ≈ 0.5/D or one instance per zone.
 */
export const DEFAULT_ACI_GAMMA = 0.005;

/**
 * How many of the most recent scores the quantile is taken over: the validation split's newest at first, then
 * delivered orders' as they come back. 2,000 resolve the 0.8 quantile to under one point of coverage
 * (sd sqrt(0.8·0.2/2000) ≈ 0.009), are ten times α's memory (so the quantile is steady while α adapts), and let
 * an older regime age out of the range instead of being outvoted by a calibration set that only grows.
 */
export const DEFAULT_ACI_WINDOW = 2000;

/** `AdaptiveConformal.toJSON`: what a server persists to carry the adaptation across a restart. */
export interface AdaptiveConformalState {
  nominal: number;
  gamma: number;
  window: number;
  alpha: number;
  /** The window, oldest first. */
  scores: number[];
  observed: number;
  missed: number;
  clamped: number;
}

export interface AdaptiveConformalOptions {
  /** Target coverage of the range, in (0, 1): 0.8 for p10–p90. */
  nominal: number;
  /** Step of the miscoverage level per outcome, in (0, 1); default DEFAULT_ACI_GAMMA. */
  gamma?: number;
  /** Most recent scores kept, an integer ≥ 1; default DEFAULT_ACI_WINDOW. */
  window?: number;
}

/**
 * Adaptive conformal inference (Gibbs & Candès 2021, "Adaptive Conformal Inference Under Distribution Shift")
 * on top of CQR. The range for raw model bounds [lo, hi] is [lo − q, hi + q], q the conformal (1 − α_t)
 * quantile of a window of conformity scores. As outcomes arrive, α_{t+1} = α_t + γ·(α − err_t), with err_t = 1
 * when the outcome fell outside the range it was given, so the long-run share of misses tracks α = 1 − nominal
 * whatever the data do, where static CQR holds only while they stay exchangeable with the validation split.
 *
 * Where α_t leaves (0, 1): at a level above n/(n+1) (α_t ≤ 1/(n+1), including α_t ≤ 0) the paper's range is the
 * whole line; an ETA range must be finite, so q is the largest score in the window. At α_t ≥ 1 (an empty set in
 * the paper) q is the smallest score, and a range that would invert collapses to its midpoint. α_t is clamped
 * to [−γ, 1 + γ], where the paper shows it stays; a clamp forgives at most one outcome's step and is counted
 * in `clamped`.
 *
 * `lo` and `hi` may be the raw quantile outputs or the statically calibrated range: the scores only have to come
 * from the same bounds. `interval` with an `out` buffer, `adjustment` and `observe` do not allocate.
 */
export class AdaptiveConformal {
  readonly nominal: number;
  readonly gamma: number;
  readonly window: number;
  private readonly target: number;
  private a: number;
  private q = 0;
  /** Scores in arrival order; `head` is the next slot, which holds the oldest score once the window is full. */
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private head = 0;
  private size = 0;
  private nObserved = 0;
  private nMissed = 0;
  private nClamped = 0;

  /** From the artifact's calibration record (its nominal coverage) and the scores of its validation rows. */
  static fromCalibration(
    calibration: Calibration,
    scores: ArrayLike<number>,
    options: Omit<AdaptiveConformalOptions, 'nominal'> = {},
  ): AdaptiveConformal {
    return new AdaptiveConformal(scores, { ...options, nominal: calibration.nominal });
  }

  /** `scores`: conformity scores (`conformityScores`) in time order, oldest first; the newest `window` are kept. */
  constructor(scores: ArrayLike<number>, options: AdaptiveConformalOptions) {
    const { nominal, gamma = DEFAULT_ACI_GAMMA, window = DEFAULT_ACI_WINDOW } = options;
    if (!(nominal > 0 && nominal < 1))
      throw new RangeError(`adaptive conformal: nominal coverage must be in (0, 1), got ${nominal}`);
    if (!(gamma > 0 && gamma < 1))
      throw new RangeError(`adaptive conformal: gamma must be in (0, 1), got ${gamma}`);
    if (!Number.isInteger(window) || window < 1)
      throw new RangeError(`adaptive conformal: window must be an integer >= 1, got ${window}`);
    if (scores.length === 0) throw new RangeError('adaptive conformal: needs at least one calibration score');
    this.nominal = nominal;
    this.gamma = gamma;
    this.window = window;
    this.target = 1 - nominal;
    this.a = this.target;
    this.ring = new Float64Array(window);
    this.sorted = new Float64Array(window);
    const from = Math.max(0, scores.length - window);
    for (let i = from; i < scores.length; i++) {
      const s = scores[i]!;
      if (!Number.isFinite(s)) throw new RangeError(`adaptive conformal: score ${i} is not finite (${s})`);
      this.ring[this.size++] = s;
    }
    this.head = this.size % window;
    this.sorted.set(this.ring.subarray(0, this.size));
    this.sorted.subarray(0, this.size).sort();
    this.q = this.quantile();
  }

  /** Current widening: the range is [lo − adjustment, hi + adjustment]. */
  get adjustment(): number {
    return this.q;
  }

  /** Current miscoverage level α_t (1 − the coverage aimed at now). */
  get alpha(): number {
    return this.a;
  }

  /** Outcomes observed so far, and the share of them inside the range they were given. */
  get observed(): number {
    return this.nObserved;
  }

  get coverage(): number {
    return this.nObserved > 0 ? 1 - this.nMissed / this.nObserved : NaN;
  }

  /** Updates where α_t hit [−γ, 1 + γ]. */
  get clamped(): number {
    return this.nClamped;
  }

  /** The adjusted range for raw bounds, written into `out` when given (no allocation). */
  interval(lo: number, hi: number): [number, number];
  interval<T extends Float64Array | [number, number]>(lo: number, hi: number, out: T): T;
  interval(
    lo: number,
    hi: number,
    out: Float64Array | [number, number] = [0, 0],
  ): Float64Array | [number, number] {
    let a = lo - this.q;
    let b = hi + this.q;
    if (a > b) a = b = (lo + hi) / 2;
    out[0] = a;
    out[1] = b;
    return out;
  }

  /**
   * The outcome y of an earlier order arrived. `lo`, `hi`: the raw bounds it was predicted with;
   * `issuedAdjustment`: the `adjustment` its range was given with (default: the current one, right when
   * outcomes come back before the next range is issued). Delayed outcomes must pass theirs, since err_t is
   * about the range the order was actually given.
   */
  observe(lo: number, hi: number, y: number, issuedAdjustment: number = this.q): void {
    const s = conformityScore(y, lo, hi);
    if (!Number.isFinite(s) || !Number.isFinite(issuedAdjustment))
      throw new RangeError(
        `adaptive conformal: observe needs finite values, got lo ${lo}, hi ${hi}, y ${y}, adjustment ${issuedAdjustment}`,
      );
    this.observeScore(s, issuedAdjustment);
  }

  /**
   * The same update from a conformity score of any kind (calibrate.ts `scaledScore` for a scaled range): the
   * outcome was a miss when the score exceeds `issuedAdjustment`, the adjustment its range was given with.
   * `step` replaces γ for this outcome (at most γ), e.g. a smaller step for an outcome that was long in flight.
   */
  observeScore(s: number, issuedAdjustment: number = this.q, step: number = this.gamma): void {
    if (!Number.isFinite(s) || !Number.isFinite(issuedAdjustment))
      throw new RangeError(
        `adaptive conformal: score ${s} and adjustment ${issuedAdjustment} must be finite`,
      );
    if (!(step > 0 && step <= this.gamma))
      throw new RangeError(`adaptive conformal: step ${step} must be in (0, gamma]`);
    const miss = s > issuedAdjustment ? 1 : 0;
    this.nObserved++;
    this.nMissed += miss;
    let a = this.a + step * (this.target - miss);
    if (a < -this.gamma || a > 1 + this.gamma) {
      a = Math.min(1 + this.gamma, Math.max(-this.gamma, a));
      this.nClamped++;
    }
    this.a = a;
    this.push(s);
    this.q = this.quantile();
  }

  /** The whole state as plain JSON: the window in arrival order, α and the counters. */
  toJSON(): AdaptiveConformalState {
    const scores: number[] = [];
    const start = this.size === this.window ? this.head : 0;
    for (let i = 0; i < this.size; i++) scores.push(this.ring[(start + i) % this.window]!);
    return {
      nominal: this.nominal,
      gamma: this.gamma,
      window: this.window,
      alpha: this.a,
      scores,
      observed: this.nObserved,
      missed: this.nMissed,
      clamped: this.nClamped,
    };
  }

  /** The instance `toJSON` described: the same adjustment now and after every later outcome. */
  static fromJSON(state: AdaptiveConformalState): AdaptiveConformal {
    const { nominal, gamma, window, alpha, observed, missed, clamped } = state;
    const aci = new AdaptiveConformal(state.scores, { nominal, gamma, window });
    if (!(Number.isFinite(alpha) && alpha >= -gamma && alpha <= 1 + gamma))
      throw new RangeError(`adaptive conformal: alpha ${alpha} outside [-gamma, 1 + gamma]`);
    for (const [k, v] of Object.entries({ observed, missed, clamped }))
      if (!Number.isInteger(v) || v < 0)
        throw new RangeError(`adaptive conformal: ${k} must be an integer >= 0`);
    if (missed > observed) throw new RangeError('adaptive conformal: more misses than outcomes');
    aci.a = alpha;
    aci.nObserved = observed;
    aci.nMissed = missed;
    aci.nClamped = clamped;
    aci.q = aci.quantile();
    return aci;
  }

  private quantile(): number {
    return this.sorted[conformalRank(this.size, 1 - this.a)]!;
  }

  /** Appends to the window, dropping the oldest score when full; `sorted` stays ascending. */
  private push(s: number): void {
    const sorted = this.sorted;
    let n = this.size;
    if (n === this.window) {
      const i = lowerBound(sorted, n, this.ring[this.head]!);
      sorted.copyWithin(i, i + 1, n);
      n--;
    }
    this.ring[this.head] = s;
    this.head = this.head + 1 === this.window ? 0 : this.head + 1;
    const j = upperBound(sorted, n, s);
    sorted.copyWithin(j + 1, j, n);
    sorted[j] = s;
    this.size = n + 1;
  }
}

function lowerBound(a: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(a: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
