import { DEFAULT_SEGMENT_MIN_ROWS } from './calibration/segments.js';

/** A model input column. Categorical value i (a number) means categories[i]; NaN means missing. */
export interface FeatureSpec {
  name: string;
  type: 'numeric' | 'categorical';
  /** For categorical features: value i of the feature means categories[i]. */
  categories?: string[];
}

export interface TrainParams {
  objective: 'squared' | 'quantile';
  /** For the quantile objective: one booster per quantile, all trained by the same call. */
  quantiles: number[];
  /** Upper bound; early stopping on the validation set usually ends sooner. */
  nTrees: number;
  learningRate: number;
  maxDepth: number;
  /** 0 means 2^maxDepth. */
  maxLeaves: number;
  growth: 'depthwise' | 'leafwise';
  /** L2 regularisation on leaf values. */
  lambda: number;
  /** Minimum hessian sum in each child of a split. */
  minChildWeight: number;
  minSplitGain: number;
  subsample: number;
  colsample: number;
  maxBins: number;
  earlyStoppingRounds: number;
  /** Same seed, same data and same parameters give a byte-identical model. */
  seed: number;
  /**
   * Quantile only. 'offsets' (default): the median, then each other quantile as its inner neighbour ∓ exp(a
   * booster), so quantiles never cross (quantile-offsets.ts; 0.5 is added when missing). 'independent': one
   * booster per quantile, as format 1 models were; they can cross.
   */
  quantileMethod: 'offsets' | 'independent';
  /** Quantile only: conformalise the outer range on the validation set. */
  calibrate: boolean;
  /**
   * Per-segment (Mondrian) calibration on the validation set, nested in this order (segments.ts): each column is
   * a feature or a key of the validation data's `segments`. Needs 'offsets' and `calibrate`.
   */
  segmentColumns: string[];
  /** A segment cell needs this many validation rows for its own factor; fewer take the parent's. */
  segmentMinRows: number;
  /** Shrinks a cell's own factor towards its parent's as if the parent had this many rows in the cell. */
  segmentShrinkRows: number;
  /** Worker threads for histogram building; 0 picks 2 when the data is large enough to pay, else 1. */
  threads: number;
}

export interface TrainingData {
  spec: FeatureSpec[];
  /** One column per feature, column-major, in spec order. */
  columns: Array<Float32Array | Float64Array>;
  target: Float64Array;
  /** Segment labels per row of columns that are not features (a zone, a daypart), for segment calibration. */
  segments?: Record<string, ArrayLike<string>>;
}

export interface TrainProgress {
  output: string;
  iteration: number;
  trainLoss: number;
  validLoss?: number;
  bestIteration: number;
}

export const DEFAULT_PARAMS: Readonly<TrainParams> = Object.freeze({
  objective: 'squared',
  quantiles: [0.1, 0.5, 0.9],
  nTrees: 1000,
  learningRate: 0.05,
  maxDepth: 6,
  maxLeaves: 0,
  growth: 'depthwise',
  lambda: 1,
  minChildWeight: 1,
  minSplitGain: 0,
  subsample: 1,
  colsample: 1,
  maxBins: 255,
  earlyStoppingRounds: 50,
  seed: 0,
  quantileMethod: 'offsets',
  calibrate: true,
  segmentColumns: [],
  segmentMinRows: DEFAULT_SEGMENT_MIN_ROWS,
  segmentShrinkRows: 0,
  threads: 0,
});
