/**
 * Per-node histograms: for every active feature and bin, the sums of gradient, hessian and row count,
 * stored as [g, h, c] triples at (histOffsets[f] + bin) * 3.
 */

/** Rows at or above this are built as two fixed halves, so one or two threads give identical sums. */
export const CHUNKED_ROWS = 8192;

export interface HistInput {
  bins: Uint8Array;
  nFeatures: number;
  rows: Uint32Array;
  grad: Float32Array;
  hess: Float32Array;
  /** Active feature indices and their histogram offsets (already multiplied by 3). */
  feats: Int32Array;
  foff: Int32Array;
  /** Bins per active feature. */
  fbins: Int32Array;
}

export function zeroHistogram(inp: HistInput, hist: Float64Array): void {
  const { feats, foff, fbins } = inp;
  for (let j = 0; j < feats.length; j++) hist.fill(0, foff[j]!, foff[j]! + fbins[j]! * 3);
}

/** Accumulates rows[begin, end) into hist (which must be zeroed first). One plain scan over rows. */
export function accumulate(inp: HistInput, begin: number, end: number, hist: Float64Array): void {
  const { bins, nFeatures: nF, rows, grad, hess, feats, foff } = inp;
  const nA = feats.length;
  if (nA === nF) {
    for (let i = begin; i < end; i++) {
      const row = rows[i]!;
      const base = row * nF;
      const g = grad[row]!;
      const h = hess[row]!;
      for (let f = 0; f < nF; f++) {
        const o = foff[f]! + bins[base + f]! * 3;
        hist[o] += g;
        hist[o + 1] += h;
        hist[o + 2]++;
      }
    }
    return;
  }
  for (let i = begin; i < end; i++) {
    const row = rows[i]!;
    const base = row * nF;
    const g = grad[row]!;
    const h = hess[row]!;
    for (let j = 0; j < nA; j++) {
      const o = foff[j]! + bins[base + feats[j]!]! * 3;
      hist[o] += g;
      hist[o + 1] += h;
      hist[o + 2]++;
    }
  }
}

export function addInto(inp: HistInput, target: Float64Array, other: Float64Array): void {
  const { feats, foff, fbins } = inp;
  for (let j = 0; j < feats.length; j++) {
    const end = foff[j]! + fbins[j]! * 3;
    for (let o = foff[j]!; o < end; o++) target[o] += other[o]!;
  }
}

/** Histogram subtraction: the larger child is its parent minus the smaller child, computed in place. */
export function subtractInto(inp: HistInput, parent: Float64Array, child: Float64Array): void {
  const { feats, foff, fbins } = inp;
  for (let j = 0; j < feats.length; j++) {
    const end = foff[j]! + fbins[j]! * 3;
    for (let o = foff[j]!; o < end; o++) parent[o] -= child[o]!;
  }
}

/**
 * Builds one node's histogram. Large nodes are built as two halves summed in a fixed order; `half`
 * (a worker, when there is one) may build the second half concurrently.
 */
export function buildHistogram(
  inp: HistInput,
  begin: number,
  end: number,
  hist: Float64Array,
  scratch: Float64Array,
  half?: (begin: number, end: number, out: Float64Array) => () => void,
): void {
  zeroHistogram(inp, hist);
  if (end - begin < CHUNKED_ROWS) {
    accumulate(inp, begin, end, hist);
    return;
  }
  const mid = begin + ((end - begin) >>> 1);
  if (half) {
    const wait = half(mid, end, scratch);
    accumulate(inp, begin, mid, hist);
    wait();
  } else {
    accumulate(inp, begin, mid, hist);
    zeroHistogram(inp, scratch);
    accumulate(inp, mid, end, scratch);
  }
  addInto(inp, hist, scratch);
}
