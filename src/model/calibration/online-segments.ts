import { AdaptiveConformal, type AdaptiveConformalState } from './adaptive-calibration.js';
import { scaledScore } from './calibrate.js';
import { scaleRange, type SegmentedRanges, type SegmentKey } from './segments.js';

/**
 * Largest step of a segment's α. A segment sees a fraction of the outcomes, so it needs a bigger step than one
 * pooled state (0.005) to heal a break in hundreds of its own outcomes: at 0.01 a miss moves α by 0.008, and a
 * segment whose coverage falls to 0.5 reaches its window's widest ranges within about 70 outcomes. Larger steps
 * (0.02) healed no faster on the simulator and sent small segments of heavy-tailed data (DoorDash's evening) to
 * the window's largest score for days: +17% mean width (`npm run bench:calibration`, docs/model.md).
 */
export const DEFAULT_SEGMENT_GAMMA = 0.01;
/**
 * Scores kept per segment: 300 resolve the 0.8 quantile to about 2.3 points of coverage (sd sqrt(0.8·0.2/300)), and
 * after a break the window holds only new scores within 300 of the segment's outcomes.
 */
export const DEFAULT_SEGMENT_WINDOW = 300;

/**
 * Bound on γ·D, D the ranges a segment gives while an outcome is in flight. With feedback D outcomes late, α
 * follows x(t+1) = x(t) − g·x(t−D) about its target (g the step): it rings once g·D passes 1/e and diverges (until
 * the clamp) past π/2 ≈ 1.57. A segment's step is min(γ, DEFAULT_DELAY_GAIN / its peak D): stable with a 1.6×
 * margin at its busiest. A bound of 0.3 (no ringing at all) slowed busy segments so much that on the simulator a
 * zone with 150 orders in flight stayed 7 points under for days, and healed no break faster.
 *
 * The peak, not each outcome's own delay: ACI bounds the step-weighted share of misses, so steps that shrink at
 * the dinner peak, when misses are likeliest, weigh those misses less and leave the plain share below target (the
 * simulator's dinner daypart: 0.769). The peak decays over DELAY_PEAK_MEMORY outcomes: days, not hours.
 */
export const DEFAULT_DELAY_GAIN = 1;

/** Outcomes over which a segment's peak delay decays by a factor e, so it follows traffic that grows or fades. */
const DELAY_PEAK_MEMORY = 10_000;

export interface OnlineSegmentOptions {
  /** Largest ACI step per outcome (see adaptive-calibration.ts); default DEFAULT_SEGMENT_GAMMA. */
  gamma?: number;
  /** Scores kept per segment; default DEFAULT_SEGMENT_WINDOW. */
  window?: number;
  /** Bound on step × peak delay (DEFAULT_DELAY_GAIN); Infinity keeps every step at γ. */
  delayGain?: number;
  /**
   * Leading segment columns that get an online state of their own (default: all). With [zone, daypart] and 1,
   * each zone learns one multiplier from all its outcomes, on top of the static (zone, daypart) factors: a break
   * in a zone heals at the zone's pace, while the dayparts keep the shape calibration found.
   */
  onlineColumns?: number;
}

/**
 * A range given for one order, with what its outcome needs to update the state that gave it. Plain JSON: keep it
 * beside the quote (the prediction log) until the order is delivered.
 */
export interface SegmentQuote {
  /** Labels of the online state that gave the range (from the first column). */
  cell: string[];
  median: number;
  lower: number;
  upper: number;
  /** The model's range before this correction: the outcome's score is measured against it. */
  baseLower: number;
  baseUpper: number;
  /** The static factor of the segment's calibrated cell, and the online multiplier on it, when quoted. */
  cellFactor: number;
  multiplier: number;
  /** cellFactor × multiplier: what the served range was scaled by. A late outcome is judged against it. */
  factor: number;
  /** Ranges the state had given before this one: the outcome's delay is counted in ranges given since. */
  sequence: number;
}

export interface OnlineSegmentSummary {
  cell: string[];
  observed: number;
  coverage: number;
  alpha: number;
  multiplier: number;
}

/** `OnlineSegmentedRanges.toJSON`. */
export interface OnlineSegmentState {
  format: 'etaserve-online-segments';
  version: 1;
  columns: string[];
  nominal: number;
  gamma: number;
  window: number;
  /** null for Infinity (JSON has none). */
  delayGain: number | null;
  onlineColumns: number;
  cells: Array<{ cell: string[]; issued: number; delayPeak: number; state: AdaptiveConformalState }>;
}

interface CellState {
  cell: string[];
  aci: AdaptiveConformal;
  /** Ranges given so far. */
  issued: number;
  /** The most ranges given while one outcome was in flight, decaying (DELAY_PEAK_MEMORY). */
  delayPeak: number;
}

/** A static factor of 0 (80% of a cell's outcomes exactly on the median) would make every normalized score infinite. */
const MIN_CELL_FACTOR = 1e-9;

/**
 * Adaptive conformal inference per segment, on top of the static per-segment calibration. A segment's range is
 * the served one scaled by cellFactor × multiplier: cellFactor from its calibrated cell (segments.ts), multiplier
 * from the `AdaptiveConformal` of its online state, which runs on scaled scores divided by cellFactor (so 1 means
 * "as calibrated"). A state exists per label prefix of `onlineColumns` columns, known or new, and starts from the
 * score sketch of its calibrated cell (or nearest ancestor with one): its first ranges are the static ones.
 *
 * Outcomes may arrive in any order and late: `observe(quote, y)` judges y against the range the quote gave, so a
 * delivery that comes back an hour later updates with the factor of its time, and with a step shrunk by how
 * many ranges its state gave meanwhile (DEFAULT_DELAY_GAIN). A quote from another model version must not be
 * observed here: its base range is another model's.
 */
export class OnlineSegmentedRanges {
  readonly gamma: number;
  readonly window: number;
  readonly delayGain: number;
  readonly onlineColumns: number;
  private readonly states = new Map<string, CellState>();

  constructor(
    readonly ranges: SegmentedRanges,
    options: OnlineSegmentOptions = {},
  ) {
    this.gamma = options.gamma ?? DEFAULT_SEGMENT_GAMMA;
    this.window = options.window ?? DEFAULT_SEGMENT_WINDOW;
    this.delayGain = options.delayGain ?? DEFAULT_DELAY_GAIN;
    this.onlineColumns = options.onlineColumns ?? ranges.columns.length;
    if (!(this.delayGain > 0))
      throw new RangeError(`online segments: delayGain must be > 0, got ${this.delayGain}`);
    if (
      !Number.isInteger(this.onlineColumns) ||
      this.onlineColumns < 0 ||
      this.onlineColumns > ranges.columns.length
    )
      throw new RangeError(
        `online segments: onlineColumns must be an integer in [0, ${ranges.columns.length}], got ${this.onlineColumns}`,
      );
  }

  /** Labels of the segment's online state: up to `onlineColumns` labels, stopping at the first missing one. */
  cellOf(segment: SegmentKey): string[] {
    const cell: string[] = [];
    for (const column of this.ranges.columns.slice(0, this.onlineColumns)) {
      const label = segment[column];
      if (label === undefined || label === null || label === '') break;
      cell.push(label);
    }
    return cell;
  }

  /** The range for one row now; `prediction` holds the model's outputs for it (Model.predict). */
  quote(prediction: ArrayLike<number>, segment: SegmentKey): SegmentQuote {
    const cell = this.cellOf(segment);
    const state = this.stateOf(cell);
    const cellFactor = this.ranges.factorFor(segment);
    const multiplier = state.aci.adjustment;
    const factor = cellFactor * multiplier;
    const r = this.ranges;
    const median = prediction[r.medianIndex]!;
    const baseLower = prediction[r.lowerIndex]!;
    const baseUpper = prediction[r.upperIndex]!;
    const [lower, upper] = scaleRange(baseLower, median, baseUpper, factor);
    return {
      cell,
      median,
      lower,
      upper,
      baseLower,
      baseUpper,
      cellFactor,
      multiplier,
      factor,
      sequence: state.issued++,
    };
  }

  /** The delivered outcome y of a quoted order, in any order and however late. */
  observe(quote: SegmentQuote, y: number): void {
    const state = this.stateOf(quote.cell);
    const score =
      scaledScore(y, quote.baseLower, quote.median, quote.baseUpper) /
      Math.max(MIN_CELL_FACTOR, quote.cellFactor);
    const delay = state.issued - quote.sequence - 1;
    state.delayPeak = Math.max(delay, state.delayPeak * (1 - 1 / DELAY_PEAK_MEMORY));
    state.aci.observeScore(
      score,
      quote.multiplier,
      Math.min(this.gamma, this.delayGain / Math.max(1, state.delayPeak)),
    );
  }

  /** Every online state so far. */
  summary(): OnlineSegmentSummary[] {
    return [...this.states.values()].map(({ cell, aci }) => ({
      cell,
      observed: aci.observed,
      coverage: aci.coverage,
      alpha: aci.alpha,
      multiplier: aci.adjustment,
    }));
  }

  toJSON(): OnlineSegmentState {
    return {
      format: 'etaserve-online-segments',
      version: 1,
      columns: [...this.ranges.columns],
      nominal: this.ranges.nominal,
      gamma: this.gamma,
      window: this.window,
      delayGain: Number.isFinite(this.delayGain) ? this.delayGain : null,
      onlineColumns: this.onlineColumns,
      cells: [...this.states.values()].map(({ cell, aci, issued, delayPeak }) => ({
        cell,
        issued,
        delayPeak,
        state: aci.toJSON(),
      })),
    };
  }

  /** Restores `toJSON`'s state onto the same model's static ranges; refuses another segmentation. */
  static fromJSON(state: OnlineSegmentState, ranges: SegmentedRanges): OnlineSegmentedRanges {
    if (state.format !== 'etaserve-online-segments' || state.version !== 1)
      throw new RangeError('online segment state: unknown format');
    if (JSON.stringify(state.columns) !== JSON.stringify(ranges.columns) || state.nominal !== ranges.nominal)
      throw new RangeError(
        `online segment state: columns ${JSON.stringify(state.columns)} at ${state.nominal} do not match the model's ${JSON.stringify(ranges.columns)} at ${ranges.nominal}`,
      );
    const online = new OnlineSegmentedRanges(ranges, {
      gamma: state.gamma,
      window: state.window,
      delayGain: state.delayGain ?? Infinity,
      onlineColumns: state.onlineColumns,
    });
    for (const { cell, issued, delayPeak, state: s } of state.cells) {
      if (!Number.isInteger(issued) || issued < 0)
        throw new RangeError('online segment state: issued must be an integer >= 0');
      if (!(delayPeak >= 0 && Number.isFinite(delayPeak)))
        throw new RangeError('online segment state: delayPeak must be a finite number >= 0');
      if (cell.length > online.onlineColumns)
        throw new RangeError('online segment state: a cell is too deep');
      online.states.set(JSON.stringify(cell), {
        cell: [...cell],
        issued,
        delayPeak,
        aci: AdaptiveConformal.fromJSON(s),
      });
    }
    return online;
  }

  private stateOf(cell: string[]): CellState {
    const key = JSON.stringify(cell);
    let entry = this.states.get(key);
    if (!entry) {
      entry = {
        cell,
        issued: 0,
        delayPeak: 0,
        aci: new AdaptiveConformal(this.startScores(cell), this.options()),
      };
      this.states.set(key, entry);
    }
    return entry;
  }

  private options(): { nominal: number; gamma: number; window: number } {
    return { nominal: this.ranges.nominal, gamma: this.gamma, window: this.window };
  }

  /**
   * The sketch of the deepest calibrated cell on the state's path that has scores of its own, over that cell's
   * factor: normalized as the state's own scores will be, so its first multiplier is about 1.
   */
  private startScores(cell: string[]): number[] {
    const segment = Object.fromEntries(cell.map((label, c) => [this.ranges.columns[c]!, label]));
    const path = this.ranges.pathOf(segment);
    for (let i = path.length - 1; i >= 0; i--) {
      const { scores, factor } = path[i]!;
      if (scores.length > 0) return scores.map((x) => x / Math.max(MIN_CELL_FACTOR, factor));
    }
    // A calibration without scores (none kept): start at "as calibrated".
    return [1];
  }
}
