import { ARTIFACT_FORMAT, quantileName, type ArtifactTree, type ModelArtifact } from '../formats/artifact.js';
import { modelFromArtifact } from '../inference/model.js';
import type { FeatureSpec, TrainingData } from '../types.js';

/**
 * Non-crossing quantiles by construction. The median is boosted as usual; every other quantile is its inner
 * neighbour (the next one towards the median) minus, below, or plus, above, exp(score) of its own booster. The
 * exp is positive, so no row, seen or unseen, can get crossed quantiles, and no sorting is needed afterwards.
 *
 * What the gap booster learns: with anchor A(x), the q-quantile of y below the median is A − g, g the
 * (1 − q)-quantile of d = A − y (above: A + g, g the q-quantile of d = y − A). Quantiles commute with increasing
 * maps, so the quantile of log(max(d, ε)) is log(max(g, ε)): plain quantile boosting of that log target, with
 * the pinball loss and leaf renewal of objectives/quantile.ts, learns log g exactly, no approximation of the
 * loss. Rows with d ≤ 0 (y on the anchor's other side) only sit at log ε, below the quantile learnt.
 */
export interface OutputPlan {
  /** Index in the artifact's outputs (quantiles ascending). */
  index: number;
  quantile: number;
  name: string;
  /** The inner neighbour this output is measured from; absent for the median. */
  anchor?: number;
  side?: 'below' | 'above';
}

/** The median first, then outwards on each side, each output after its anchor. `quantiles` ascending, with 0.5. */
export function offsetPlan(quantiles: readonly number[]): OutputPlan[] {
  const center = quantiles.indexOf(0.5);
  if (center < 0)
    throw new RangeError('non-crossing quantiles are anchored on the median: 0.5 must be trained');
  const plan: OutputPlan[] = [{ index: center, quantile: 0.5, name: quantileName(0.5) }];
  for (let k = center - 1; k >= 0; k--)
    plan.push({
      index: k,
      quantile: quantiles[k]!,
      name: quantileName(quantiles[k]!),
      anchor: k + 1,
      side: 'below',
    });
  for (let k = center + 1; k < quantiles.length; k++)
    plan.push({
      index: k,
      quantile: quantiles[k]!,
      name: quantileName(quantiles[k]!),
      anchor: k - 1,
      side: 'above',
    });
  return plan;
}

/** The level of d's quantile a gap output learns: 1 − q below the anchor, q above it. */
export function gapLevel(quantile: number, side: 'below' | 'above'): number {
  return side === 'below' ? 1 - quantile : quantile;
}

/** Signed distance of each target from its anchor towards the output's side: A − y below, y − A above. */
function distances(target: Float64Array, anchor: Float64Array, side: 'below' | 'above'): Float64Array {
  const d = new Float64Array(target.length);
  for (let i = 0; i < d.length; i++)
    d[i] = side === 'below' ? anchor[i]! - target[i]! : target[i]! - anchor[i]!;
  return d;
}

/**
 * ε of log(max(d, ε)): a thousandth of the mean |d| on the training rows, far below any gap worth learning,
 * and on the data's own scale (seconds or minutes alike).
 */
export function gapFloor(target: Float64Array, anchor: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < target.length; i++) sum += Math.abs(target[i]! - anchor[i]!);
  const mean = target.length > 0 ? sum / target.length : 0;
  return mean > 0 ? mean * 1e-3 : 1e-9;
}

/** log(max(d, ε)) of each row: the target of a gap booster. */
export function gapTarget(
  target: Float64Array,
  anchor: Float64Array,
  side: 'below' | 'above',
  floor: number,
): Float64Array {
  const d = distances(target, anchor, side);
  for (let i = 0; i < d.length; i++) d[i] = Math.log(Math.max(d[i]!, floor));
  return d;
}

/**
 * One trained output's predictions for every row of column-major data: base plus its trees, and for an offset
 * output its anchor's predictions ± exp of that. Row by row with one buffer, so a million rows cost no copy.
 */
export function predictOutput(
  spec: FeatureSpec[],
  data: Pick<TrainingData, 'columns' | 'target'>,
  trees: ArtifactTree[],
  baseScore: number,
  offset?: { anchor: Float64Array; side: 'below' | 'above' },
): Float64Array {
  const single: ModelArtifact = {
    format: ARTIFACT_FORMAT,
    formatVersion: 1,
    spec,
    outputs: [{ name: 'raw', objective: 'quantile', baseScore }],
    trees: trees.map((t) => ({ ...t, output: 0 })),
    params: {},
    metrics: { outputs: [] },
    calibration: null,
    trainedAt: new Date(0).toISOString(),
  };
  const model = modelFromArtifact(single);
  const n = data.target.length;
  const row = new Float64Array(spec.length);
  const out = new Float64Array(1);
  const pred = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < row.length; f++) row[f] = data.columns[f]![i]!;
    const score = model.predict(row, out)[0]!;
    pred[i] = offset ? offset.anchor[i]! + (offset.side === 'below' ? -1 : 1) * Math.exp(score) : score;
  }
  return pred;
}
