import { LANES, type Compiled } from './compile.js';

// Walks over the arrays of compile.ts, whose comment explains the widened row and the lockstep walk.

/** One step down: node n's second child when row value > threshold, else its first. Leaves stay put. */
function next(nd: Int32Array, th: Float32Array, x: Float64Array, n: number): number {
  const o = n << 2;
  return nd[o + 2 + +(x[nd[o]!]! > th[o + 1]!)]!;
}

/** Sum of output k's trees over one widened row: eight trees in lockstep, then the rest one by one. */
function sumTrees(c: Compiled, k: number, x: Float64Array): number {
  const { nodes: nd, thresholds: th, values, roots, groupDepth } = c;
  const end = c.outStart[k + 1]!;
  let s = 0;
  let t = c.outStart[k]!;
  for (; t + LANES <= end; t += LANES) {
    let n0 = roots[t]!;
    let n1 = roots[t + 1]!;
    let n2 = roots[t + 2]!;
    let n3 = roots[t + 3]!;
    let n4 = roots[t + 4]!;
    let n5 = roots[t + 5]!;
    let n6 = roots[t + 6]!;
    let n7 = roots[t + 7]!;
    for (let d = groupDepth[t]!; d > 0; d--) {
      n0 = next(nd, th, x, n0);
      n1 = next(nd, th, x, n1);
      n2 = next(nd, th, x, n2);
      n3 = next(nd, th, x, n3);
      n4 = next(nd, th, x, n4);
      n5 = next(nd, th, x, n5);
      n6 = next(nd, th, x, n6);
      n7 = next(nd, th, x, n7);
    }
    s +=
      values[n0]! +
      values[n1]! +
      values[n2]! +
      values[n3]! +
      values[n4]! +
      values[n5]! +
      values[n6]! +
      values[n7]!;
  }
  for (; t < end; t++) {
    let n = roots[t]!;
    for (let d = c.depth[t]!; d > 0; d--) n = next(nd, th, x, n);
    s += values[n]!;
  }
  return s;
}

export class Predictor {
  private readonly x: Float64Array;
  /** Table rows of c.categorical as views, made once so widening a row allocates nothing. */
  private readonly slotRows: Float64Array[];

  constructor(readonly c: Compiled) {
    this.x = new Float64Array(c.rowWidth);
    const { table, rowStart } = c.categorical;
    this.slotRows = Array.from({ length: rowStart.length - 1 }, (_, r) =>
      table.subarray(rowStart[r]!, rowStart[r + 1]!),
    );
  }

  /** Widens one input row into this.x; XGBoost compares float32(x) < threshold, so values are rounded. */
  private load(row: ArrayLike<number>, offset: number): void {
    const nF = this.c.nFeatures;
    const x = this.x;
    for (let f = 0; f < nF; f++) {
      const v = Math.fround(row[offset + f]!);
      x[f] = v;
      x[nF + f] = -v;
    }
    const { feature, slotAt, categoryRows, rowOfAt, rowOf, otherRow, missingRow } = this.c.categorical;
    for (let i = 0; i < feature.length; i++) {
      const v = x[feature[i]!]!;
      // A category is the value's integer part; negative and unseen values are "other".
      let r: number;
      if (v !== v) r = missingRow[i]!;
      else if (v >= 0 && v < categoryRows[i]!) r = rowOf[rowOfAt[i]! + (v >>> 0)]!;
      else r = otherRow[i]!;
      x.set(this.slotRows[r]!, slotAt[i]!);
    }
  }
  private score(out: Float64Array, at: number): void {
    const c = this.c;
    for (let k = 0; k < c.nOutputs; k++) out[at + k] = c.base[k]! + sumTrees(c, k, this.x);
    const { order, anchor, sign } = c.offsets;
    // exp(·) ≥ 0 and a ± x rounds monotonically, so an offset output never crosses its anchor.
    for (let i = 0; i < order.length; i++) {
      const k = at + order[i]!;
      out[k] = out[at + anchor[i]!]! + sign[i]! * Math.exp(out[k]!);
    }
  }

  predict(row: ArrayLike<number>, out: Float64Array): Float64Array {
    this.load(row, 0);
    this.score(out, 0);
    return out;
  }

  predictBatch(rows: Float64Array | Float32Array, nRows: number, out: Float64Array): void {
    const nF = this.c.nFeatures;
    const nOut = this.c.nOutputs;
    for (let r = 0; r < nRows; r++) {
      this.load(rows, r * nF);
      this.score(out, r * nOut);
    }
  }
}
