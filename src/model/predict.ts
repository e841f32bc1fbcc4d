import { F_DEFAULT_LEFT, F_SET_LEFT, F_CAT, FEATURE, LANES, type Compiled } from './compile.js';

// Walks over the arrays of compile.ts. The layout and the reasons for the lockstep walk are described there.

/** A non-missing value at a categorical split: in the set goes the set's way, anything else the other. */
function catLeft(cats: Uint32Array, s: number, v: number, fl: number): boolean {
  const cat = Math.trunc(v);
  const inSet = cat >= 0 && cat < cats[s]! * 32 && (cats[s + 1 + (cat >>> 5)]! & (1 << (cat & 31))) !== 0;
  return inSet === ((fl & F_SET_LEFT) !== 0);
}

/** One tree, any row: missing values follow the default side, categories test their set. */
function walk(c: Compiled, root: number, x: Float64Array, xo: number): number {
  const { nodes, thresholds: thr, flags, cats } = c;
  let n = root;
  for (let o = n << 2; nodes[o + 2] !== n; o = n << 2) {
    const v = x[xo + (nodes[o]! & FEATURE)]!;
    const fl = flags[n]!;
    let left: boolean;
    if (v !== v) left = (fl & F_DEFAULT_LEFT) !== 0;
    else if ((fl & F_CAT) === 0) left = v < thr[o + 1]!;
    else left = catLeft(cats, c.catAt[n]!, v, fl);
    n = left ? nodes[o + 2]! : nodes[o + 3]!;
  }
  return c.values[n]!;
}

/** Sum of output k's trees for a row without missing values in a model without categorical splits. */
function sumFast(c: Compiled, k: number, x: Float64Array, xo: number): number {
  const { nodes: nd, thresholds: th, values, roots, groupDepth } = c;
  const end = c.outStart[k + 1]!;
  let s = 0;
  let t = c.outStart[k]!;
  for (; t + LANES <= end; t += LANES) {
    let n0 = roots[t]!;
    let n1 = roots[t + 1]!;
    let n2 = roots[t + 2]!;
    let n3 = roots[t + 3]!;
    for (let d = groupDepth[t]!; d > 0; d--) {
      let o = n0 << 2;
      n0 = nd[o + 3 - +(x[xo + nd[o]!]! < th[o + 1]!)]!;
      o = n1 << 2;
      n1 = nd[o + 3 - +(x[xo + nd[o]!]! < th[o + 1]!)]!;
      o = n2 << 2;
      n2 = nd[o + 3 - +(x[xo + nd[o]!]! < th[o + 1]!)]!;
      o = n3 << 2;
      n3 = nd[o + 3 - +(x[xo + nd[o]!]! < th[o + 1]!)]!;
    }
    s += values[n0]! + values[n1]! + values[n2]! + values[n3]!;
  }
  for (; t < end; t++) {
    let n = roots[t]!;
    for (let d = c.depth[t]!; d > 0; d--) {
      const o = n << 2;
      n = nd[o + 3 - +(x[xo + nd[o]!]! < th[o + 1]!)]!;
    }
    s += values[n]!;
  }
  return s;
}

/**
 * One branch-free step for any node and any value: a numeric node compares, a categorical node (sign
 * bit of the feature word) reads its bit from `lut`, and a missing value takes the default side;
 * masks pick which result counts, so no data-dependent branch is mispredicted.
 */
function stepMixed(c: Compiled, x: Float64Array, xo: number, n: number): number {
  const nd = c.nodes;
  const o = n << 2;
  const f = nd[o]!;
  const isCat = f >> 31;
  const v = x[xo + (f & FEATURE)]!;
  const miss = +(v !== v);
  const cat = v >= 0 && v < 255 ? v | 0 : 255;
  const bit = (c.lut[(nd[o + 1]! & isCat) + (cat >>> 5)]! >>> (cat & 31)) & 1;
  const lt = +(v < c.thresholds[o + 1]!);
  const go = (((bit & isCat) | (lt & ~isCat)) & (miss - 1)) | (c.flags[n]! & F_DEFAULT_LEFT & -miss);
  return nd[o + 3 - go]!;
}

/** stepMixed for a row known to have no missing value: the same without the default-side mask. */
function stepCat(c: Compiled, x: Float64Array, xo: number, n: number): number {
  const nd = c.nodes;
  const o = n << 2;
  const f = nd[o]!;
  const isCat = f >> 31;
  const v = x[xo + (f & FEATURE)]!;
  const cat = v >= 0 && v < 255 ? v | 0 : 255;
  const bit = (c.lut[(nd[o + 1]! & isCat) + (cat >>> 5)]! >>> (cat & 31)) & 1;
  const lt = +(v < c.thresholds[o + 1]!);
  return nd[o + 3 - ((bit & isCat) | (lt & ~isCat))]!;
}

function sumMixed(c: Compiled, k: number, x: Float64Array, xo: number, missing: boolean): number {
  const { values, roots, groupDepth } = c;
  const end = c.outStart[k + 1]!;
  let s = 0;
  let t = c.outStart[k]!;
  for (; t + LANES <= end; t += LANES) {
    let n0 = roots[t]!;
    let n1 = roots[t + 1]!;
    let n2 = roots[t + 2]!;
    let n3 = roots[t + 3]!;
    for (let d = groupDepth[t]!; d > 0; d--) {
      if (missing) {
        n0 = stepMixed(c, x, xo, n0);
        n1 = stepMixed(c, x, xo, n1);
        n2 = stepMixed(c, x, xo, n2);
        n3 = stepMixed(c, x, xo, n3);
      } else {
        n0 = stepCat(c, x, xo, n0);
        n1 = stepCat(c, x, xo, n1);
        n2 = stepCat(c, x, xo, n2);
        n3 = stepCat(c, x, xo, n3);
      }
    }
    s += values[n0]! + values[n1]! + values[n2]! + values[n3]!;
  }
  for (; t < end; t++) {
    let n = roots[t]!;
    for (let d = c.depth[t]!; d > 0; d--) n = missing ? stepMixed(c, x, xo, n) : stepCat(c, x, xo, n);
    s += values[n]!;
  }
  return s;
}

function sumGeneral(c: Compiled, k: number, x: Float64Array, xo: number): number {
  let s = 0;
  for (let t = c.outStart[k]!, end = c.outStart[k + 1]!; t < end; t++) s += walk(c, c.roots[t]!, x, xo);
  return s;
}

export class Predictor {
  private readonly x: Float64Array;

  constructor(readonly c: Compiled) {
    this.x = new Float64Array(c.nFeatures);
  }

  /** Copies the row rounded to float32 (XGBoost compares float32(x) < threshold); true if any is missing. */
  private load(row: ArrayLike<number>, offset: number): boolean {
    const x = this.x;
    let missing = false;
    for (let f = 0; f < x.length; f++) {
      const v = Math.fround(row[offset + f]!);
      x[f] = v;
      missing ||= v !== v;
    }
    return missing;
  }

  private score(missing: boolean, out: Float64Array, at: number): void {
    const c = this.c;
    const x = this.x;
    for (let k = 0; k < c.nOutputs; k++) {
      let s: number;
      if (!c.narrowCategories) s = sumGeneral(c, k, x, 0);
      else if (missing || c.hasCategorical) s = sumMixed(c, k, x, 0, missing);
      else s = sumFast(c, k, x, 0);
      out[at + k] = c.base[k]! + s;
    }
  }

  predict(row: ArrayLike<number>, out: Float64Array): Float64Array {
    this.score(this.load(row, 0), out, 0);
    return out;
  }

  predictBatch(rows: Float64Array | Float32Array, nRows: number, out: Float64Array): void {
    const nF = this.c.nFeatures;
    const nOut = this.c.nOutputs;
    for (let r = 0; r < nRows; r++) this.score(this.load(rows, r * nF), out, r * nOut);
  }
}
