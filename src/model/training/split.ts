import type { FeatureBins } from './binning.js';
import { HIST_STRIDE } from './histogram.js';

/** The best split of one node. Bins are the training bins; `leftOfBin` answers "does bin b go left". */
export interface SplitInfo {
  feature: number;
  gain: number;
  kind: 'numeric' | 'categorical';
  /** Numeric: value bins 1..bin go left. */
  bin: number;
  defaultLeft: boolean;
  /** 1 where the bin goes left (bin 0 = missing); filled for both kinds. */
  leftOfBin: Uint8Array;
  gl: number;
  hl: number;
  gr: number;
  hr: number;
}

export interface SplitParams {
  lambda: number;
  minChildWeight: number;
  minSplitGain: number;
}

/**
 * Histograms hold no counts, so a child is empty when its hessian sum is; it needs at least this much
 * hessian even with minChildWeight 0 (XGBoost's kRtEps), so float rounding never makes an empty child.
 */
const MIN_CHILD_HESSIAN = 1e-6;

/** Leaf weight minimising the second-order loss with L2 penalty. */
export function leafWeight(g: number, h: number, lambda: number): number {
  return -g / (h + lambda);
}

/** Loss reduction of a leaf with these sums (twice the objective decrease, as XGBoost reports it). */
export function leafScore(g: number, h: number, lambda: number): number {
  return (g * g) / (h + lambda);
}

export function splitGain(gl: number, hl: number, gr: number, hr: number, lambda: number): number {
  return leafScore(gl, hl, lambda) + leafScore(gr, hr, lambda) - leafScore(gl + gr, hl + hr, lambda);
}

/** Smoothing of the g/h ordering of categories, so rare categories do not sort to the extremes. */
const CAT_SMOOTH = 10;

/**
 * Working arrays of the categorical scan, owned by the caller (a tree grower, so one per training run):
 * allocated once per run rather than per call, and never shared between two trainings in one process.
 */
export class SplitScratch {
  readonly order = new Int32Array(256);
  readonly keys = new Float64Array(256);
  /** The category order of the best categorical split so far; read before the next findBestSplit. */
  readonly bestOrder = new Int32Array(256);
}

interface Best {
  gain: number;
  f: number;
  bin: number;
  defaultLeft: boolean;
  catLen: number;
  catOrder: Int32Array | null;
  gl: number;
  hl: number;
}

function scanNumeric(
  hist: Float64Array,
  o: number,
  nBins: number,
  f: number,
  G: number,
  H: number,
  p: SplitParams,
  best: Best,
): void {
  const lambda = p.lambda;
  const mcw = Math.max(p.minChildWeight, MIN_CHILD_HESSIAN);
  const gm = hist[o]!;
  const hm = hist[o + 1]!;
  const parent = leafScore(G, H, lambda);
  let gl = 0;
  let hl = 0;
  // b = nBins-1 puts every value left; only meaningful when missing values go right.
  for (let b = 1; b < nBins; b++) {
    const k = o + b * HIST_STRIDE;
    const gb = hist[k]!;
    const hb = hist[k + 1]!;
    // An empty bin splits the rows as the bin before it did; most bins of a deep node are empty.
    if (hb === 0 && gb === 0) continue;
    gl += gb;
    hl += hb;
    if (hl === 0) continue;
    // Missing right.
    let gr = G - gl;
    let hr = H - hl;
    if (hl >= mcw && hr >= mcw) {
      const gain = leafScore(gl, hl, lambda) + leafScore(gr, hr, lambda) - parent;
      if (gain > best.gain) {
        best.gain = gain;
        best.f = f;
        best.bin = b;
        best.defaultLeft = hm > 0 ? false : hl >= hr;
        best.catOrder = null;
        best.gl = gl;
        best.hl = hl;
      }
    }
    if (hm === 0 || b === nBins - 1) continue;
    // Missing left.
    const gl2 = gl + gm;
    const hl2 = hl + hm;
    gr = G - gl2;
    hr = H - hl2;
    if (hl2 >= mcw && hr >= mcw) {
      const gain = leafScore(gl2, hl2, lambda) + leafScore(gr, hr, lambda) - parent;
      if (gain > best.gain) {
        best.gain = gain;
        best.f = f;
        best.bin = b;
        best.defaultLeft = true;
        best.catOrder = null;
        best.gl = gl2;
        best.hl = hl2;
      }
    }
  }
}

/** LightGBM-style: order non-empty bins (missing included) by smoothed g/h and scan prefixes. */
function scanCategorical(
  hist: Float64Array,
  o: number,
  nBins: number,
  f: number,
  G: number,
  H: number,
  p: SplitParams,
  best: Best,
  scratch: SplitScratch,
): void {
  const { order, keys, bestOrder } = scratch;
  const lambda = p.lambda;
  const mcw = Math.max(p.minChildWeight, MIN_CHILD_HESSIAN);
  let m = 0;
  for (let b = 0; b < nBins; b++) {
    const k = o + b * HIST_STRIDE;
    if (hist[k + 1]! > 0) {
      order[m] = b;
      keys[b] = hist[k]! / (hist[k + 1]! + CAT_SMOOTH);
      m++;
    }
  }
  if (m < 2) return;
  // By (key, bin). Insertion sort for the usual handful of categories seen in a node, with no
  // comparator calls or allocation; a stable library sort for many.
  const sorted = order;
  if (m > 32) sorted.subarray(0, m).sort((a, b) => keys[a]! - keys[b]! || a - b);
  else {
    for (let i = 1; i < m; i++) {
      const b = sorted[i]!;
      const kb = keys[b]!;
      let j = i - 1;
      for (; j >= 0 && keys[sorted[j]!]! > kb; j--) sorted[j + 1] = sorted[j]!;
      sorted[j + 1] = b;
    }
  }
  const parent = leafScore(G, H, lambda);
  let gl = 0;
  let hl = 0;
  let changed = false;
  for (let i = 0; i < m - 1; i++) {
    const k = o + sorted[i]! * HIST_STRIDE;
    gl += hist[k]!;
    hl += hist[k + 1]!;
    const gr = G - gl;
    const hr = H - hl;
    if (hl < mcw || hr < mcw) continue;
    const gain = leafScore(gl, hl, lambda) + leafScore(gr, hr, lambda) - parent;
    if (gain > best.gain) {
      best.gain = gain;
      best.f = f;
      best.catLen = i + 1;
      best.catOrder = bestOrder;
      changed = true;
      best.gl = gl;
      best.hl = hl;
    }
  }
  if (changed) bestOrder.set(sorted.subarray(0, m));
}

export function findBestSplit(
  hist: Float64Array,
  featureBins: FeatureBins[],
  feats: Int32Array,
  foff: Int32Array,
  G: number,
  H: number,
  p: SplitParams,
  scratch: SplitScratch,
): SplitInfo | null {
  const best: Best = {
    gain: Math.max(p.minSplitGain, 1e-12),
    f: -1,
    bin: 0,
    defaultLeft: false,
    catLen: 0,
    catOrder: null,
    gl: 0,
    hl: 0,
  };
  for (let j = 0; j < feats.length; j++) {
    const f = feats[j]!;
    const fb = featureBins[f]!;
    if (fb.kind === 'numeric') scanNumeric(hist, foff[j]!, fb.nBins, f, G, H, p, best);
    else scanCategorical(hist, foff[j]!, fb.nBins, f, G, H, p, best, scratch);
  }
  if (best.f < 0) return null;
  const nBins = featureBins[best.f]!.nBins;
  const leftOfBin = new Uint8Array(256);
  let kind: SplitInfo['kind'] = 'numeric';
  let defaultLeft = best.defaultLeft;
  if (best.catOrder) {
    kind = 'categorical';
    for (let i = 0; i < best.catLen; i++) leftOfBin[best.catOrder[i]!] = 1;
    defaultLeft = leftOfBin[0] === 1;
  } else {
    leftOfBin[0] = defaultLeft ? 1 : 0;
    for (let b = 1; b <= best.bin && b < nBins; b++) leftOfBin[b] = 1;
  }
  return {
    feature: best.f,
    gain: best.gain,
    kind,
    bin: best.bin,
    defaultLeft,
    leftOfBin,
    gl: best.gl,
    hl: best.hl,
    gr: G - best.gl,
    hr: H - best.hl,
  };
}
