import {
  OnlineSegmentedRanges,
  SegmentedRanges,
  type Calibration,
  type OnlineSegmentState,
  type SegmentQuote,
} from '../model/index.js';

/**
 * What the accuracy join's feeder saves per model version in the registry (`saveOnlineRanges`): the per-segment
 * online state, and the quotes of orders placed and not yet delivered, so a feeder that resumes from it judges
 * their late outcomes against their own ranges.
 */
export interface OnlineRangesState {
  format: 'etaserve-online-ranges';
  /** The feeder's state after the last record it applied: where a resumed feeder continues. */
  online: OnlineSegmentState;
  /** In the order the orders were placed. */
  pending: PendingQuote[];
  /**
   * The state predictors serve: `online` as it was at the latest publication (a boundary of log time), so an
   * order can be judged with the multiplier its range was given with (docs/model.md, "Serving").
   */
  served: OnlineSegmentState | null;
  /** Recent publications, oldest first: when each took effect and its multiplier per online cell (JSON labels). */
  published: Publication[];
}

export interface Publication {
  atMs: number;
  multipliers: Record<string, number>;
}

/** An order placed and not yet delivered: the range it was given, as its state's quote. */
export interface PendingQuote {
  order: string;
  createdAtMs: number;
  quote: SegmentQuote;
}

/** The static per-segment ranges of a model, when its calibration has segments. */
export function segmentedRangesOf(
  calibration: Calibration | null | undefined,
  outputNames: readonly string[],
): SegmentedRanges | undefined {
  return calibration?.segments ? new SegmentedRanges(calibration, outputNames) : undefined;
}

/** A saved state onto the model's own ranges; throws when it is not one, or belongs to another segmentation. */
export function restoreOnlineRanges(
  saved: unknown,
  ranges: SegmentedRanges,
): {
  online: OnlineSegmentedRanges;
  served: OnlineSegmentedRanges;
  pending: PendingQuote[];
  published: Publication[];
} {
  const state = saved as Partial<OnlineRangesState> | null;
  if (
    state?.format !== 'etaserve-online-ranges' ||
    !state.online ||
    !Array.isArray(state.pending) ||
    !Array.isArray(state.published)
  )
    throw new RangeError('online ranges: not a saved online range state');
  return {
    online: OnlineSegmentedRanges.fromJSON(state.online, ranges),
    // Before the first publication predictors serve the artifact's factors: a fresh state.
    served: state.served
      ? OnlineSegmentedRanges.fromJSON(state.served, ranges)
      : new OnlineSegmentedRanges(ranges),
    pending: state.pending,
    published: state.published,
  };
}
