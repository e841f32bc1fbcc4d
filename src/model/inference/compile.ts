import type { ModelArtifact } from '../formats/artifact.js';

/**
 * Trees as flat typed arrays for inference, every split reduced to one comparison: `row[i] > t` picks the
 * second child. Each node, leaves included, is 4 int32 words: [row index, float32 t, first child, second child].
 *
 * The row the kernel reads is the input widened at load time (see `Predictor`): [x, −x, slots], x rounded to
 * float32 as XGBoost compares it. A slot holds, for one categorical partition and one missing-value side, 1 when
 * the row's category goes right and 0 when it goes left, so a categorical split is a numeric split at 0.5. Slots
 * are grouped by feature and precomputed per category: widening copies one table row per categorical feature.
 *
 * Missing numeric values need no test either: NaN compares false, so a node whose missing values go left tests
 * `x > nextDown(t)` (same as x ≥ t) with children [left, right], and one whose missing values go right tests
 * `−x > −t` (same as x < t) with children [right, left].
 *
 * A leaf points to itself on both sides, so the kernel can walk four trees in lockstep for a fixed number of
 * steps: four independent load chains overlap, and no data-dependent branch is mispredicted.
 */
export const LANES = 8;

export interface Compiled {
  nFeatures: number;
  nOutputs: number;
  nodes: Int32Array;
  /** The same buffer as `nodes`, read at word 1 of each node. */
  thresholds: Float32Array;
  /** Leaf values by node index (0 for internal nodes). */
  values: Float64Array;
  /** Values in the widened row: 2 · nFeatures + the slots. */
  rowWidth: number;
  categorical: CategoricalSlots;
  /** Root node of each tree, trees grouped by output. */
  roots: Int32Array;
  /** Trees of output k are roots[outStart[k], outStart[k + 1]). */
  outStart: Int32Array;
  /** Per tree: the deepest leaf; per lane group (starting at outStart[k], step LANES): the max. */
  depth: Int32Array;
  groupDepth: Int32Array;
  base: Float64Array;
  offsets: OffsetOutputs;
}

/**
 * Non-crossing quantile outputs (format 2): after the tree sums, output order[i] becomes
 * out[anchor[i]] + sign[i] · exp(its sum), in this order, so an anchor is final before any output measured from it.
 */
export interface OffsetOutputs {
  order: Int32Array;
  anchor: Int32Array;
  sign: Float64Array;
}

/** Offset outputs with every anchor before its dependants; the artifact is validated (anchors exist, no cycle). */
export function offsetOrder(a: Pick<ModelArtifact, 'outputs'>): OffsetOutputs {
  const index = new Map(a.outputs.map((o, k) => [o.name, k]));
  const order: number[] = [];
  const placed = new Set<number>();
  const place = (k: number): void => {
    const offset = a.outputs[k]!.offset;
    if (!offset || placed.has(k)) return;
    place(index.get(offset.anchor)!);
    placed.add(k);
    order.push(k);
  };
  a.outputs.forEach((_, k) => place(k));
  return {
    order: Int32Array.from(order),
    anchor: Int32Array.from(order, (k) => index.get(a.outputs[k]!.offset!.anchor)!),
    sign: Float64Array.from(order, (k) => (a.outputs[k]!.offset!.side === 'below' ? -1 : 1)),
  };
}

/**
 * Per categorical feature i (input feature `feature[i]`): its slots are row[slotAt[i], slotAt[i + 1]), filled
 * from table row `tableRow(category)` of `table`, rows of that many values. Categories 0..categoryRows[i]-1 map
 * through `rowOf` (from rowOfAt[i]); any other value uses `otherRow[i]`, a missing one `missingRow[i]`. Row
 * numbers index the whole table, whose rows start at `rowStart`.
 */
export interface CategoricalSlots {
  feature: Int32Array;
  slotAt: Int32Array;
  categoryRows: Int32Array;
  rowOfAt: Int32Array;
  rowOf: Int32Array;
  otherRow: Int32Array;
  missingRow: Int32Array;
  rowStart: Int32Array;
  table: Float64Array;
}

/** One float32 seen as its bits: nextDownF32's working word, made once per compile() call, not per module. */
interface F32Bits {
  f32: Float32Array;
  i32: Int32Array;
}

function f32Bits(): F32Bits {
  const f32 = new Float32Array(1);
  return { f32, i32: new Int32Array(f32.buffer) };
}

/** The largest float32 below t (t itself for −∞): for float32 x, x ≥ t exactly when x > nextDown(t). */
function nextDownF32(t: number, { f32, i32 }: F32Bits): number {
  f32[0] = t;
  if (t === -Infinity) return t;
  if (t === 0) i32[0] = 0x80000001;
  else i32[0] += t > 0 ? -1 : 1;
  return f32[0]!;
}

interface Slot {
  set: Set<number>;
  setGoesLeft: boolean;
  missingGoesLeft: boolean;
}

/** Categorical splits with the same feature, partition and missing side share a slot. */
class SlotCollector {
  private readonly byFeature = new Map<number, { slots: Slot[]; index: Map<string, number> }>();
  /** Nodes waiting for their slot's final row index. */
  readonly uses: Array<{ o: number; feature: number; slot: number }> = [];

  use(o: number, feature: number, set: number[], setGoesLeft: boolean, missingGoesLeft: boolean): void {
    let f = this.byFeature.get(feature);
    if (!f) this.byFeature.set(feature, (f = { slots: [], index: new Map() }));
    const sorted = [...new Set(set)].sort((a, b) => a - b);
    const key = `${setGoesLeft ? 1 : 0}${missingGoesLeft ? 1 : 0}:${sorted.join(',')}`;
    let slot = f.index.get(key);
    if (slot === undefined) {
      slot = f.slots.length;
      f.slots.push({ set: new Set(sorted), setGoesLeft, missingGoesLeft });
      f.index.set(key, slot);
    }
    this.uses.push({ o, feature, slot });
  }

  /** Lays the slots out from `firstSlot` on and builds the table; returns it with each node's row index. */
  build(firstSlot: number): {
    slots: CategoricalSlots;
    width: number;
    rowIndex: (feature: number, slot: number) => number;
  } {
    const features = [...this.byFeature.keys()].sort((a, b) => a - b);
    const n = features.length;
    const out: CategoricalSlots = {
      feature: Int32Array.from(features),
      slotAt: new Int32Array(n + 1),
      categoryRows: new Int32Array(n),
      rowOfAt: new Int32Array(n + 1),
      rowOf: new Int32Array(0),
      otherRow: new Int32Array(n),
      missingRow: new Int32Array(n),
      rowStart: new Int32Array(0),
      table: new Float64Array(0),
    };
    const rowOf: number[] = [];
    const rows: number[][] = [];
    const start = new Map<number, number>();
    let at = firstSlot;
    features.forEach((feature, i) => {
      const { slots } = this.byFeature.get(feature)!;
      start.set(feature, at);
      out.slotAt[i] = at;
      at += slots.length;
      const goesRight = (s: Slot, c: number): number => (s.set.has(c) === s.setGoesLeft ? 0 : 1);
      const maxCategory = Math.max(-1, ...slots.flatMap((s) => [...s.set]));
      // Categories behaving alike in every slot share a table row: high-cardinality features stay small.
      const distinct = new Map<string, number>();
      const rowFor = (values: number[]): number => {
        const key = values.join('');
        let r = distinct.get(key);
        if (r === undefined) {
          r = rows.length;
          rows.push(values);
          distinct.set(key, r);
        }
        return r;
      };
      out.categoryRows[i] = maxCategory + 1;
      for (let c = 0; c <= maxCategory; c++) rowOf.push(rowFor(slots.map((s) => goesRight(s, c))));
      out.rowOfAt[i + 1] = rowOf.length;
      out.otherRow[i] = rowFor(slots.map((s) => goesRight(s, -1)));
      out.missingRow[i] = rowFor(slots.map((s) => (s.missingGoesLeft ? 0 : 1)));
    });
    out.slotAt[n] = at;
    out.rowOf = Int32Array.from(rowOf);
    out.rowStart = new Int32Array(rows.length + 1);
    rows.forEach((r, k) => (out.rowStart[k + 1] = out.rowStart[k]! + r.length));
    out.table = Float64Array.from(rows.flat());
    return { slots: out, width: at - firstSlot, rowIndex: (feature, slot) => start.get(feature)! + slot };
  }
}

export function compile(a: ModelArtifact): Compiled {
  const nF = a.spec.length;
  const nOut = a.outputs.length;
  const nT = a.trees.length;
  const order = a.trees.map((_, i) => i).sort((x, y) => a.trees[x]!.output - a.trees[y]!.output || x - y);
  const total = a.trees.reduce((n, t) => n + t.feature.length, 0);
  const nodes = new Int32Array(Math.max(1, total) * 4);
  const thresholds = new Float32Array(nodes.buffer);
  const values = new Float64Array(total);
  const roots = new Int32Array(nT);
  const depth = new Int32Array(nT);
  const outStart = new Int32Array(nOut + 1);
  const base = Float64Array.from(a.outputs, (o) => o.baseScore);
  const bits = f32Bits();
  if (a.calibration?.score === 'scaled') {
    // Every distance from the median times the factor: exp(score + log f) = f · exp(score).
    const logFactor = Math.log(a.calibration.adjustment);
    a.outputs.forEach((o, k) => {
      if (o.offset) base[k] += logFactor;
    });
  } else if (a.calibration) {
    const lo = a.outputs.findIndex((o) => o.name === a.calibration!.lower);
    const hi = a.outputs.findIndex((o) => o.name === a.calibration!.upper);
    if (lo >= 0) base[lo] -= a.calibration.adjustment;
    if (hi >= 0) base[hi] += a.calibration.adjustment;
  }
  const slots = new SlotCollector();
  let at = 0;
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
      const left = ref[t.left[i]!]!;
      const right = ref[t.right[i]!]!;
      const defaultLeft = t.defaultLeft[i] === 1;
      const c = catOf.get(i);
      // A slot already answers missing values, so a categorical node keeps [left, right].
      const swap = !c && !defaultLeft;
      nodes[o + 2] = swap ? right : left;
      nodes[o + 3] = swap ? left : right;
      if (c) {
        slots.use(o, t.feature[i]!, c.set, c.setGoesLeft, defaultLeft);
        thresholds[o + 1] = 0.5;
      } else if (defaultLeft) {
        nodes[o] = t.feature[i]!;
        thresholds[o + 1] = nextDownF32(t.threshold[i]!, bits);
      } else {
        nodes[o] = nF + t.feature[i]!;
        thresholds[o + 1] = -Math.fround(t.threshold[i]!);
      }
    }
    at += queue.length;
  });
  const built = slots.build(2 * nF);
  for (const u of slots.uses) nodes[u.o] = built.rowIndex(u.feature, u.slot);
  for (let k = 1; k <= nOut; k++) outStart[k] = Math.max(outStart[k]!, outStart[k - 1]!);
  const groupDepth = new Int32Array(nT);
  for (let k = 0; k < nOut; k++) {
    for (let g = outStart[k]!; g < outStart[k + 1]!; g += LANES) {
      for (let t = g; t < Math.min(g + LANES, outStart[k + 1]!); t++)
        groupDepth[g] = Math.max(groupDepth[g]!, depth[t]!);
    }
  }
  return {
    nFeatures: nF,
    nOutputs: nOut,
    nodes,
    thresholds,
    values,
    rowWidth: 2 * nF + built.width,
    categorical: built.slots,
    roots,
    outStart,
    depth,
    groupDepth,
    base,
    offsets: offsetOrder(a),
  };
}
