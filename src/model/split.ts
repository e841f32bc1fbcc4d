import type { FeatureBins } from './binning.js';

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
  cl: number;
  gr: number;
  hr: number;
  cr: number;
}

export interface SplitParams {
  lambda: number;
  minChildWeight: number;
  minSplitGain: number;
}

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

const order = new Int32Array(256);
const keys = new Float64Array(256);

interface Best {
  gain: number;
  f: number;
  bin: number;
  defaultLeft: boolean;
  catLen: number;
  catOrder: Int32Array | null;
  gl: number;
  hl: number;
  cl: number;
}

function scanNumeric(
  hist: Float64Array,
  o: number,
  nBins: number,
  f: number,
  G: number,
  H: number,
  C: number,
  p: SplitParams,
  best: Best,
): void {
  const { lambda, minChildWeight: mcw } = p;
  const gm = hist[o]!;
  const hm = hist[o + 1]!;
  const cm = hist[o + 2]!;
  const parent = leafScore(G, H, lambda);
  let gl = 0;
  let hl = 0;
  let cl = 0;
  // b = nBins-1 puts every value left; only meaningful when missing values go right.
  for (let b = 1; b < nBins; b++) {
    const k = o + b * 3;
    gl += hist[k]!;
    hl += hist[k + 1]!;
    cl += hist[k + 2]!;
    if (cl === 0) continue;
    // Missing right.
    let gr = G - gl;
    let hr = H - hl;
    let cr = C - cl;
    if (cr > 0 && hl >= mcw && hr >= mcw) {
      const gain = leafScore(gl, hl, lambda) + leafScore(gr, hr, lambda) - parent;
      if (gain > best.gain) {
        best.gain = gain;
        best.f = f;
        best.bin = b;
        best.defaultLeft = cm > 0 ? false : hl >= hr;
        best.catOrder = null;
        best.gl = gl;
        best.hl = hl;
        best.cl = cl;
      }
    }
    if (cm === 0 || b === nBins - 1) continue;
    // Missing left.
    const gl2 = gl + gm;
    const hl2 = hl + hm;
    gr = G - gl2;
    hr = H - hl2;
    cr = C - cl - cm;
    if (cr > 0 && hl2 >= mcw && hr >= mcw) {
      const gain = leafScore(gl2, hl2, lambda) + leafScore(gr, hr, lambda) - parent;
      if (gain > best.gain) {
        best.gain = gain;
        best.f = f;
        best.bin = b;
        best.defaultLeft = true;
        best.catOrder = null;
        best.gl = gl2;
        best.hl = hl2;
        best.cl = cl + cm;
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
  C: number,
  p: SplitParams,
  best: Best,
): void {
  const { lambda, minChildWeight: mcw } = p;
  let m = 0;
  for (let b = 0; b < nBins; b++) {
    const k = o + b * 3;
    if (hist[k + 2]! > 0) {
      order[m] = b;
      keys[b] = hist[k]! / (hist[k + 1]! + CAT_SMOOTH);
      m++;
    }
  }
  if (m < 2) return;
  const sorted = Array.from(order.subarray(0, m)).sort((a, b) => keys[a]! - keys[b]! || a - b);
  const parent = leafScore(G, H, lambda);
  let gl = 0;
  let hl = 0;
  let cl = 0;
  for (let i = 0; i < m - 1; i++) {
    const k = o + sorted[i]! * 3;
    gl += hist[k]!;
    hl += hist[k + 1]!;
    cl += hist[k + 2]!;
    const gr = G - gl;
    const hr = H - hl;
    if (hl < mcw || hr < mcw || C - cl <= 0) continue;
    const gain = leafScore(gl, hl, lambda) + leafScore(gr, hr, lambda) - parent;
    if (gain > best.gain) {
      best.gain = gain;
      best.f = f;
      best.catLen = i + 1;
      best.catOrder = Int32Array.from(sorted);
      best.gl = gl;
      best.hl = hl;
      best.cl = cl;
    }
  }
}

export function findBestSplit(
  hist: Float64Array,
  featureBins: FeatureBins[],
  feats: Int32Array,
  foff: Int32Array,
  G: number,
  H: number,
  C: number,
  p: SplitParams,
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
    cl: 0,
  };
  for (let j = 0; j < feats.length; j++) {
    const f = feats[j]!;
    const fb = featureBins[f]!;
    if (fb.kind === 'numeric') scanNumeric(hist, foff[j]!, fb.nBins, f, G, H, C, p, best);
    else scanCategorical(hist, foff[j]!, fb.nBins, f, G, H, C, p, best);
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
    cl: best.cl,
    gr: G - best.gl,
    hr: H - best.hl,
    cr: C - best.cl,
  };
}
