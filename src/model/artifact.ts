import type { FeatureSpec } from './types.js';

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

export interface ArtifactOutput {
  name: string;
  objective: string;
  quantile?: number;
  /** Added to the sum of this output's trees. */
  baseScore: number;
}

export interface OutputMetrics {
  name: string;
  metric: 'rmse' | 'pinball' | 'unknown';
  iterations: number;
  bestIteration: number;
  trainLoss: number;
  validLoss?: number;
}

/** Conformalized quantile regression: widen (or narrow) the outer range so it covers `nominal` on validation. */
export interface Calibration {
  method: 'cqr';
  lower: string;
  upper: string;
  nominal: number;
  /** Subtracted from the lower output and added to the upper one at prediction time. */
  adjustment: number;
  rows: number;
  validCoverageBefore: number;
  validCoverageAfter: number;
}

export interface ModelArtifact {
  format: 'etaserve-gbdt';
  formatVersion: 1;
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
export const ARTIFACT_VERSION = 1;

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
