import type { FeatureSpec } from '../types.js';

/**
 * One tree as parallel per-node arrays; node 0 is the root. A numeric split sends a row left when
 * float32(x) < threshold, and a missing (NaN) value to the default side, as XGBoost does.
 */
export interface ArtifactTree {
  /** Index into ModelArtifact.outputs. */
  output: number;
  /** Feature index, -1 for a leaf. */
  feature: number[];
  /** float32 threshold for numeric splits; 0 for leaves and categorical splits. */
  threshold: number[];
  /** 1 when missing values go left. */
  defaultLeft: number[];
  /** Child node indices, -1 for a leaf. */
  left: number[];
  right: number[];
  /** Leaf: the amount added to the output (learning rate applied). Internal: cover-weighted mean below it. */
  value: number[];
  /** Loss reduction of the split (0 for leaves). */
  gain: number[];
  /** Hessian sum of the training rows reaching the node. */
  cover: number[];
  /**
   * Categorical splits. A value whose (truncated) category is in `set` goes left when `setGoesLeft`,
   * otherwise right; any other non-missing value goes the opposite way.
   */
  categorical?: Array<{ node: number; set: number[]; setGoesLeft: boolean }>;
}

/** A tree of `output` with no node yet, to be filled node by node. */
export function emptyTree(output: number): ArtifactTree {
  return {
    output,
    feature: [],
    threshold: [],
    defaultLeft: [],
    left: [],
    right: [],
    value: [],
    gain: [],
    cover: [],
  };
}

export interface ArtifactOutput {
  name: string;
  objective: string;
  quantile?: number;
  /** Added to the sum of this output's trees. */
  baseScore: number;
  /**
   * Format 2, non-crossing quantiles: this output is `anchor − exp(score)` ('below') or `anchor + exp(score)`
   * ('above'), score being baseScore plus its trees, so it can never cross its anchor (see quantile-offsets.ts).
   */
  offset?: QuantileOffset;
}

export interface QuantileOffset {
  /** The output this one is measured from: the next quantile towards the median. */
  anchor: string;
  side: 'below' | 'above';
}

export interface OutputMetrics {
  name: string;
  metric: 'rmse' | 'pinball' | 'unknown';
  /** 'log-gap': the loss is of the log distance to the anchor an offset output learns, not of the output. */
  space?: 'log-gap';
  iterations: number;
  bestIteration: number;
  trainLoss: number;
  validLoss?: number;
}

/**
 * Conformalized quantile regression: widen (or narrow) the outer range so it covers `nominal` on validation.
 *
 * `score` 'additive' (format 1; also when absent): `adjustment` is subtracted from the lower output and added to
 * the upper one. 'scaled' (format 2, non-crossing models): every quantile's distance from `center` is multiplied
 * by `adjustment` (≥ 0), so the range stays ordered whatever the correction (see calibrate.ts).
 */
export interface Calibration {
  method: 'cqr';
  score?: 'additive' | 'scaled';
  /** 'scaled' only: the median output the distances are measured from. */
  center?: string;
  lower: string;
  upper: string;
  nominal: number;
  adjustment: number;
  rows: number;
  validCoverageBefore: number;
  validCoverageAfter: number;
  /** Format 2: per-segment (Mondrian) corrections on top of this one (segments.ts). */
  segments?: SegmentCalibration;
}

/**
 * Per-segment conformal corrections, as factors on the range the model serves (its pooled calibration
 * included): a segment's range is [m − f·(m − lower), m + f·(upper − m)], m the median.
 *
 * Segments nest by `columns`: the cell of labels [a] (first column = a) is the parent of [a, b]; [] is the
 * pooled cell (factor 1). A cell with fewer than `minRows` validation rows takes its parent's factor; a cell with
 * more blends its own conformal factor with its parent's as (n·own + shrinkRows·parent) / (n + shrinkRows).
 */
export interface SegmentCalibration {
  columns: string[];
  minRows: number;
  shrinkRows: number;
  cells: SegmentCell[];
}

export interface SegmentCell {
  /** One label per column, from the first: [] is the pooled cell. */
  labels: string[];
  /** Validation rows in the cell. */
  rows: number;
  /** Applied to the served range (1 = as served). */
  factor: number;
  /** 'own': from the cell's rows (shrunk towards its parent); 'parent': too few rows, the parent's factor. */
  source: 'own' | 'parent';
  /** The cell's validation coverage with the served range and with `factor`. */
  coverageBefore: number;
  coverageAfter: number;
  /** Up to SKETCH_SIZE of the cell's conformity scores, evenly spaced in rank, in a shuffled order: enough to start online adaptation (online-segments.ts). Empty for 'parent' cells. */
  scores: number[];
}

export interface ModelArtifact {
  format: 'etaserve-gbdt';
  /** 1, or 2 when the artifact uses non-crossing offsets or scaled/segment calibration (`artifactVersion`). */
  formatVersion: 1 | 2;
  spec: FeatureSpec[];
  outputs: ArtifactOutput[];
  trees: ArtifactTree[];
  /** Training parameters, or for an import the source's own parameters. */
  params: Record<string, unknown>;
  metrics: { outputs: OutputMetrics[] };
  calibration: Calibration | null;
  trainedAt: string;
  dataFingerprint?: string;
  /** Set when the artifact was converted from another library's model. */
  source?: { library: string; version?: string; objective?: string };
}

export const ARTIFACT_FORMAT = 'etaserve-gbdt';
/** The newest format this build reads and writes; it reads every older one too. */
export const ARTIFACT_VERSION = 2;

/**
 * The oldest format that can hold the artifact: 1 unless it needs format 2. An older reader refuses a format 2
 * artifact instead of serving offsets as plain quantiles or dropping the per-segment corrections.
 */
export function artifactVersion(a: Pick<ModelArtifact, 'outputs' | 'calibration'>): 1 | 2 {
  const v2 =
    a.outputs.some((o) => o.offset !== undefined) ||
    (a.calibration !== null && (a.calibration.score === 'scaled' || a.calibration.segments !== undefined));
  return v2 ? 2 : 1;
}

/** Output names follow the quantile: 0.1 -> 'p10', 0.025 -> 'p2.5'. */
export function quantileName(q: number): string {
  return `p${Number((q * 100).toFixed(4))}`;
}

/** Cover-weighted means for internal nodes: the expected value below each node, which TreeSHAP needs. */
export function fillInternalValues(tree: ArtifactTree): void {
  const visit = (n: number): void => {
    const l = tree.left[n]!;
    const r = tree.right[n]!;
    if (l < 0) return;
    visit(l);
    visit(r);
    const cl = tree.cover[l]!;
    const cr = tree.cover[r]!;
    const w = cl + cr;
    tree.value[n] =
      w > 0 ? (cl * tree.value[l]! + cr * tree.value[r]!) / w : (tree.value[l]! + tree.value[r]!) / 2;
  };
  visit(0);
}
