import { emptyTree, type ArtifactTree, type OutputMetrics } from '../formats/artifact.js';
import type { BinnedData } from './dataset.js';
import type { TreeGrower, GrowNode } from './grow.js';
import { HIST_STRIDE, type HistInput } from './histogram.js';
import { METRICS } from '../metrics.js';
import type { Objective } from './objectives/index.js';
import { Rng } from '../rng.js';
import { leafWeight } from './split.js';
import type { TrainParams, TrainProgress } from '../types.js';

const FLT_MAX = 3.4028234663852886e38;

export interface BoostInput {
  train: BinnedData;
  target: Float64Array;
  valid?: { data: BinnedData; target: Float64Array };
  params: TrainParams;
  grower: TreeGrower;
  grad: Float32Array;
  hess: Float32Array;
}

export interface BoostResult {
  trees: ArtifactTree[];
  baseScore: number;
  metrics: OutputMetrics;
}

/**
 * A grown tree flattened for routing rows the partition did not place (validation, out of bag):
 * typed arrays rather than node objects, as every validation row walks every tree.
 */
class Router {
  private readonly feature: Int32Array;
  private readonly next: Int32Array;
  /** leftOfBin of node i at i * 256. */
  private readonly goesLeft: Uint8Array;

  constructor(nodes: GrowNode[]) {
    const n = nodes.length;
    this.feature = new Int32Array(n).fill(-1);
    this.next = new Int32Array(2 * n);
    this.goesLeft = new Uint8Array(n * 256);
    nodes.forEach((node, i) => {
      if (node.left < 0) return;
      this.feature[i] = node.split!.feature;
      this.next[2 * i] = node.left;
      this.next[2 * i + 1] = node.right;
      this.goesLeft.set(node.split!.leftOfBin, i * 256);
    });
  }

  /** The leaf of the row whose bins start at `base`. */
  leafOf(bins: Uint8Array, base: number): number {
    const { feature, next, goesLeft } = this;
    let i = 0;
    for (let f = feature[0]!; f >= 0; f = feature[i]!) {
      i = next[2 * i + 1 - goesLeft[i * 256 + bins[base + f]!]!]!;
    }
    return i;
  }
}

function toArtifactTree(
  nodes: GrowNode[],
  values: Float64Array,
  data: BinnedData,
  output: number,
): ArtifactTree {
  const t: ArtifactTree = emptyTree(output);
  nodes.forEach((n, i) => {
    const s = n.left >= 0 ? n.split! : null;
    t.feature.push(s ? s.feature : -1);
    t.left.push(n.left);
    t.right.push(n.right);
    t.value.push(s ? 0 : values[i]!);
    t.gain.push(s ? s.gain : 0);
    t.cover.push(n.H);
    t.defaultLeft.push(s?.defaultLeft ? 1 : 0);
    let thr = 0;
    if (s?.kind === 'numeric') {
      const cuts = data.featureBins[s.feature]!.cuts;
      thr = s.bin - 1 < cuts.length ? cuts[s.bin - 1]! : FLT_MAX;
    } else if (s) {
      const set: number[] = [];
      for (let b = 1; b < 256; b++) if (s.leftOfBin[b] === 1) set.push(b - 1);
      (t.categorical ??= []).push({ node: i, set, setGoesLeft: true });
    }
    t.threshold.push(thr);
  });
  return t;
}

function sampleFeatures(
  nF: number,
  colsample: number,
  rng: Rng,
  offsets: Int32Array,
  data: BinnedData,
): HistInput['feats'][] {
  const all = Array.from({ length: nF }, (_, f) => f);
  let chosen = all;
  if (colsample < 1) {
    const k = Math.max(1, Math.round(colsample * nF));
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(nF - i);
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    chosen = all.slice(0, k).sort((a, b) => a - b);
  }
  const feats = Int32Array.from(chosen);
  const foff = Int32Array.from(chosen, (f) => offsets[f]! * HIST_STRIDE);
  const fbins = Int32Array.from(chosen, (f) => data.featureBins[f]!.nBins);
  return [feats, foff, fbins];
}

export function boost(
  inp: BoostInput,
  objective: Objective,
  outputName: string,
  output: number,
  seed: number,
  onProgress?: (p: TrainProgress) => void,
): BoostResult {
  const { train, target, valid, params, grower, grad, hess } = inp;
  const n = train.nRows;
  const nF = train.nFeatures;
  const rng = new Rng(seed);
  const base = objective.initScore(target);
  const score = new Float64Array(n).fill(base);
  const vScore = valid ? new Float64Array(valid.data.nRows).fill(base) : undefined;
  const metric = METRICS[objective.metric];
  const q = objective.quantile;
  const rows = grower.partition.rows;
  const inBag = params.subsample < 1 ? new Uint8Array(n) : undefined;
  const residuals = objective.renewLeaf ? new Float64Array(n) : undefined;
  const trees: ArtifactTree[] = [];
  let best = Infinity;
  let bestIteration = 0;
  let trainLoss = metric(target, score, q);
  let trainLossAtBest = trainLoss;
  let validLoss: number | undefined;
  for (let it = 0; it < params.nTrees; it++) {
    objective.gradients(target, score, grad, hess);
    let m = 0;
    if (inBag) {
      inBag.fill(0);
      for (let i = 0; i < n; i++) {
        if (rng.next() < params.subsample) {
          rows[m++] = i;
          inBag[i] = 1;
        }
      }
    } else {
      for (let i = 0; i < n; i++) rows[i] = i;
      m = n;
    }
    const [feats, foff, fbins] = sampleFeatures(nF, params.colsample, rng, train.histOffsets, train);
    const hin: HistInput = {
      bins: train.bins,
      nFeatures: nF,
      rows,
      grad,
      hess,
      feats: feats!,
      foff: foff!,
      fbins: fbins!,
      unitHessian: objective.unitHessian,
    };
    const nodes = grower.grow(hin, m);
    const values = new Float64Array(nodes.length);
    nodes.forEach((node, i) => {
      if (node.left >= 0) return;
      let v: number;
      if (residuals && objective.renewLeaf) {
        const r = residuals.subarray(0, node.end - node.begin);
        for (let k = node.begin; k < node.end; k++) r[k - node.begin] = target[rows[k]!]! - score[rows[k]!]!;
        v = objective.renewLeaf(r);
      } else {
        v = leafWeight(node.G, node.H, params.lambda);
      }
      values[i] = v * params.learningRate;
    });
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      if (node.left >= 0) continue;
      const v = values[i]!;
      for (let k = node.begin; k < node.end; k++) score[rows[k]!] += v;
    }
    const router = inBag || vScore ? new Router(nodes) : undefined;
    if (inBag && router) {
      const bins = train.bins;
      for (let r = 0; r < n; r++) if (inBag[r] === 0) score[r] += values[router.leafOf(bins, r * nF)]!;
    }
    if (valid && vScore && router) {
      const vb = valid.data.bins;
      for (let r = 0; r < valid.data.nRows; r++) vScore[r] += values[router.leafOf(vb, r * nF)]!;
    }
    trees.push(toArtifactTree(nodes, values, train, output));
    trainLoss = metric(target, score, q);
    if (valid && vScore) {
      validLoss = metric(valid.target, vScore, q);
      if (validLoss < best) {
        best = validLoss;
        bestIteration = it;
        trainLossAtBest = trainLoss;
      }
    } else {
      bestIteration = it;
      trainLossAtBest = trainLoss;
    }
    onProgress?.({ output: outputName, iteration: it, trainLoss, validLoss, bestIteration });
    if (valid && it - bestIteration >= params.earlyStoppingRounds) break;
  }
  const iterations = trees.length;
  trees.length = Math.min(trees.length, bestIteration + 1);
  return {
    trees,
    baseScore: base,
    metrics: {
      name: outputName,
      metric: objective.metric,
      iterations,
      bestIteration,
      trainLoss: trainLossAtBest,
      ...(valid ? { validLoss: best } : {}),
    },
  };
}
