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
  /** Quantile only: conformalise the outer range on the validation set. */
  calibrate: boolean;
  /** Worker threads for histogram building; 0 picks 2 when the data is large enough to pay, else 1. */
  threads: number;
}

export interface TrainingData {
  spec: FeatureSpec[];
  /** One column per feature, column-major, in spec order. */
  columns: Array<Float32Array | Float64Array>;
  target: Float64Array;
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
  calibrate: true,
  threads: 0,
});
