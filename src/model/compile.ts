import type { ModelArtifact } from './artifact.js';

/**
 * Trees as flat typed arrays for inference. Every node, leaves included, is 4 int32 words:
 *   [feature, float32 threshold bits (or category-set offset), left, right]
 * A leaf points to itself on both sides, so a walk may take extra steps once it reaches a leaf. That
 * lets the fast kernel walk four trees in lockstep for a fixed number of steps, with the child chosen
 * arithmetically: four independent load chains overlap instead of waiting on each other, and there
 * are no branches to mispredict. Rows with a missing value, and models with categorical splits, take
 * the general one-tree-at-a-time walk.
 */
export const F_DEFAULT_LEFT = 1;
export const F_CAT = 2;
export const F_SET_LEFT = 4;
const LANES = 4;

export interface Compiled {
  nFeatures: number;
  nOutputs: number;
  nodes: Int32Array;
  thresholds: Float32Array;
  flags: Uint8Array;
  /** Leaf values by node index (0 for internal nodes). */
  values: Float64Array;
  /** Category sets: at offset o, cats[o] is the word count, then the bit words. */
  cats: Uint32Array;
  hasCategorical: boolean;
  /** Root node of each tree, trees grouped by output. */
  roots: Int32Array;
  /** Trees of output k are roots[outStart[k], outStart[k + 1]). */
  outStart: Int32Array;
  /** Per tree: the deepest leaf; per lane group (starting at outStart[k], step LANES): the max. */
  depth: Int32Array;
  groupDepth: Int32Array;
  base: Float64Array;
}

function setWords(set: number[]): number {
  return Math.ceil((Math.max(-1, ...set) + 1) / 32);
}

export function compile(a: ModelArtifact): Compiled {
  const nOut = a.outputs.length;
  const nT = a.trees.length;
  const order = a.trees.map((_, i) => i).sort((x, y) => a.trees[x]!.output - a.trees[y]!.output || x - y);
  let total = 0;
  let catWords = 0;
  for (const t of a.trees) {
    total += t.feature.length;
    for (const c of t.categorical ?? []) catWords += 1 + setWords(c.set);
  }
  const buf = new ArrayBuffer(Math.max(1, total) * 16);
  const nodes = new Int32Array(buf);
  const thresholds = new Float32Array(buf);
  const flags = new Uint8Array(total);
  const values = new Float64Array(total);
  const cats = new Uint32Array(catWords);
  const roots = new Int32Array(nT);
  const depth = new Int32Array(nT);
  const outStart = new Int32Array(nOut + 1);
  const base = Float64Array.from(a.outputs, (o) => o.baseScore);
  if (a.calibration) {
    const lo = a.outputs.findIndex((o) => o.name === a.calibration!.lower);
    const hi = a.outputs.findIndex((o) => o.name === a.calibration!.upper);
    if (lo >= 0) base[lo] -= a.calibration.adjustment;
    if (hi >= 0) base[hi] += a.calibration.adjustment;
  }
  let at = 0;
  let catAt = 0;
  order.forEach((ti, k) => {
    const t = a.trees[ti]!;
    outStart[t.output + 1] = k + 1;
    const catOf = new Map((t.categorical ?? []).map((c) => [c.node, c]));
    // Breadth-first renumbering keeps the top levels of a tree on the same cache lines.
    const queue = [0];
    const dep = [0];
    const ref = new Int32Array(t.feature.length);
    for (let qi = 0; qi < queue.length; qi++) {
      const i = queue[qi]!;
      ref[i] = at + qi;
      depth[k] = Math.max(depth[k]!, dep[qi]!);
      if (t.left[i]! >= 0) {
        queue.push(t.left[i]!, t.right[i]!);
        dep.push(dep[qi]! + 1, dep[qi]! + 1);
      }
    }
    roots[k] = at;
    for (const i of queue) {
      const me = ref[i]!;
      const o = me << 2;
      if (t.left[i]! < 0) {
        nodes[o + 2] = me;
        nodes[o + 3] = me;
        values[me] = t.value[i]!;
        continue;
      }
      nodes[o] = t.feature[i]!;
      nodes[o + 2] = ref[t.left[i]!]!;
      nodes[o + 3] = ref[t.right[i]!]!;
      let fl = t.defaultLeft[i] ? F_DEFAULT_LEFT : 0;
      const c = catOf.get(i);
      if (c) {
        fl |= F_CAT | (c.setGoesLeft ? F_SET_LEFT : 0);
        const words = setWords(c.set);
        cats[catAt] = words;
        for (const v of c.set) cats[catAt + 1 + (v >>> 5)]! |= 1 << (v & 31);
        nodes[o + 1] = catAt;
        catAt += 1 + words;
      } else {
        thresholds[o + 1] = t.threshold[i]!;
      }
      flags[me] = fl;
    }
    at += queue.length;
  });
  for (let k = 1; k <= nOut; k++) outStart[k] = Math.max(outStart[k]!, outStart[k - 1]!);
  const groupDepth = new Int32Array(nT);
  for (let k = 0; k < nOut; k++) {
    for (let g = outStart[k]!; g < outStart[k + 1]!; g += LANES) {
      for (let t = g; t < Math.min(g + LANES, outStart[k + 1]!); t++)
        groupDepth[g] = Math.max(groupDepth[g]!, depth[t]!);
    }
  }
  const hasCategorical = catWords > 0;
  return {
    nFeatures: a.spec.length,
    nOutputs: nOut,
    nodes,
    thresholds,
    flags,
    values,
    cats,
    hasCategorical,
    roots,
    outStart,
    depth,
    groupDepth,
    base,
  };
}

/** One tree, any row: missing values follow the default side, categories test their set. */
function walk(c: Compiled, root: number, x: Float64Array, xo: number): number {
  const { nodes, thresholds: thr, flags, cats } = c;
  let n = root;
  for (let o = n << 2; nodes[o + 2] !== n; o = n << 2) {
    const v = x[xo + nodes[o]!]!;
    const fl = flags[n]!;
    let left: boolean;
    if (v !== v) left = (fl & F_DEFAULT_LEFT) !== 0;
    else if ((fl & F_CAT) === 0) left = v < thr[o + 1]!;
    else {
      const s = nodes[o + 1]!;
      const cat = Math.trunc(v);
      const inSet = cat >= 0 && cat < cats[s]! * 32 && (cats[s + 1 + (cat >>> 5)]! & (1 << (cat & 31))) !== 0;
      left = inSet === ((fl & F_SET_LEFT) !== 0);
    }
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

  private score(slow: boolean, out: Float64Array, at: number): void {
    const c = this.c;
    for (let k = 0; k < c.nOutputs; k++)
      out[at + k] = c.base[k]! + (slow ? sumGeneral(c, k, this.x, 0) : sumFast(c, k, this.x, 0));
  }

  predict(row: ArrayLike<number>, out: Float64Array): Float64Array {
    this.score(this.load(row, 0) || this.c.hasCategorical, out, 0);
    return out;
  }

  predictBatch(rows: Float64Array | Float32Array, nRows: number, out: Float64Array): void {
    const nF = this.c.nFeatures;
    const nOut = this.c.nOutputs;
    for (let r = 0; r < nRows; r++)
      this.score(this.load(rows, r * nF) || this.c.hasCategorical, out, r * nOut);
  }
}
