import type { ModelArtifact } from './artifact.js';

/**
 * Trees as flat typed arrays for inference. Every node, leaves included, is 4 int32 words:
 *   [feature (sign bit set for a categorical split), float32 threshold bits or category-set offset, left, right]
 * A leaf points to itself on both sides, so a walk may take extra steps once it reaches a leaf. That
 * lets the fast kernel walk four trees in lockstep for a fixed number of steps, with the child chosen
 * arithmetically: four independent load chains overlap instead of waiting on each other, and there
 * are no branches to mispredict (categorical splits take a rarely-taken branch). Rows with a missing
 * value take the general one-tree-at-a-time walk.
 */
export const F_DEFAULT_LEFT = 1;
export const F_CAT = 2;
export const F_SET_LEFT = 4;
export const LANES = 4;
const CAT_NODE = 1 << 31;
export const FEATURE = 0x7fffffff;

export interface Compiled {
  nFeatures: number;
  nOutputs: number;
  nodes: Int32Array;
  thresholds: Float32Array;
  flags: Uint8Array;
  /** Leaf values by node index (0 for internal nodes). */
  values: Float64Array;
  /** Category sets for the general walk: at catAt[node], the word count, then the bit words. */
  cats: Uint32Array;
  catAt: Int32Array;
  /**
   * For the fast walk: 8 words (256 bits) per categorical node at nodes[o + 1], bit c set when
   * category c goes left, bit 255 for any other value. Words 0-7 stay zero for numeric nodes.
   */
  lut: Uint32Array;
  /** Every category set fits below 255, so the fast walk can use `lut`. */
  narrowCategories: boolean;
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
  let catNodes = 0;
  let narrowCategories = true;
  for (const t of a.trees) {
    total += t.feature.length;
    for (const c of t.categorical ?? []) {
      catWords += 1 + setWords(c.set);
      catNodes++;
      if (c.set.some((v) => v >= 255)) narrowCategories = false;
    }
  }
  const buf = new ArrayBuffer(Math.max(1, total) * 16);
  const nodes = new Int32Array(buf);
  const thresholds = new Float32Array(buf);
  const flags = new Uint8Array(total);
  const values = new Float64Array(total);
  const cats = new Uint32Array(catWords);
  const catAtNode = new Int32Array(total);
  const lut = new Uint32Array(8 + (narrowCategories ? catNodes * 8 : 0));
  let lutAt = 8;
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
      nodes[o] = t.feature[i]! | (catOf.has(i) ? CAT_NODE : 0);
      nodes[o + 2] = ref[t.left[i]!]!;
      nodes[o + 3] = ref[t.right[i]!]!;
      let fl = t.defaultLeft[i] ? F_DEFAULT_LEFT : 0;
      const c = catOf.get(i);
      if (c) {
        fl |= F_CAT | (c.setGoesLeft ? F_SET_LEFT : 0);
        const words = setWords(c.set);
        cats[catAt] = words;
        for (const v of c.set) cats[catAt + 1 + (v >>> 5)]! |= 1 << (v & 31);
        catAtNode[me] = catAt;
        catAt += 1 + words;
        if (narrowCategories) {
          const inSet = new Set(c.set);
          for (let v = 0; v < 256; v++) {
            const left = v === 255 ? !c.setGoesLeft : inSet.has(v) === c.setGoesLeft;
            if (left) lut[lutAt + (v >>> 5)]! |= 1 << (v & 31);
          }
          nodes[o + 1] = lutAt;
          lutAt += 8;
        }
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
    catAt: catAtNode,
    lut,
    narrowCategories,
    hasCategorical,
    roots,
    outStart,
    depth,
    groupDepth,
    base,
  };
}
