import { fillInternalValues, type ArtifactTree, type ModelArtifact } from '../formats/artifact.js';
import { TreeShap } from './treeshap.js';

/** The same routing as compile.ts, on the artifact's own arrays (explanations are not on the hot path). */
function next(
  t: ArtifactTree,
  cats: Map<number, { set: Set<number>; setGoesLeft: boolean }>,
  i: number,
  v: number,
): number {
  const c = cats.get(i);
  let left: boolean;
  if (v !== v) left = t.defaultLeft[i] === 1;
  else if (c) left = (v >= 0 && c.set.has(Math.trunc(v))) === c.setGoesLeft;
  else left = Math.fround(v) < t.threshold[i]!;
  return left ? t.left[i]! : t.right[i]!;
}

export class Explainer {
  private readonly cats: Array<Map<number, { set: Set<number>; setGoesLeft: boolean }>>;
  /** Trees with internal values recomputed: a loaded file's own values are not trusted for this. */
  private readonly trees: ArtifactTree[];
  private readonly depths: number[];
  private readonly shap = new TreeShap();

  constructor(
    private readonly a: ModelArtifact,
    private readonly base: Float64Array,
  ) {
    this.trees = a.trees.map((t) => {
      const copy = { ...t, value: [...t.value] };
      fillInternalValues(copy);
      return copy;
    });
    const depthOf = (t: ArtifactTree, i: number): number =>
      t.left[i]! < 0 ? 0 : 1 + Math.max(depthOf(t, t.left[i]!), depthOf(t, t.right[i]!));
    this.depths = a.trees.map((t) => depthOf(t, 0));
    this.cats = a.trees.map(
      (t) =>
        new Map(
          (t.categorical ?? []).map((c) => [c.node, { set: new Set(c.set), setGoesLeft: c.setGoesLeft }]),
        ),
    );
  }

  /**
   * TreeSHAP values (exact, path-dependent, using each node's training cover, as XGBoost's
   * pred_contribs): one per feature, then the bias (base score plus each tree's expected value).
   * The entries sum to the prediction.
   */
  contributions(row: ArrayLike<number>, output = 0): Float64Array {
    if (!(output >= 0 && output < this.a.outputs.length)) throw new RangeError(`no output ${output}`);
    const offset = this.a.outputs[output]!.offset;
    if (!offset) return this.treeContributions(row, output);
    return this.offsetContributions(row, output, offset);
  }

  /**
   * An offset output is anchor + sign · exp(s), s = b + Σ φᵢ its trees' bias and TreeSHAP values: not additive
   * in the features. Each φᵢ is carried through exp by the secant slope (exp(s) − exp(b)) / (s − b), so the
   * entries still sum exactly to the prediction, each feature keeps its share of the move from the bias, and the
   * anchor's own contributions are added on top.
   */
  private offsetContributions(
    row: ArrayLike<number>,
    output: number,
    offset: NonNullable<ModelArtifact['outputs'][number]['offset']>,
  ): Float64Array {
    const nF = this.a.spec.length;
    const anchor = this.contributions(
      row,
      this.a.outputs.findIndex((o) => o.name === offset.anchor),
    );
    const phi = this.treeContributions(row, output);
    const sign = offset.side === 'below' ? -1 : 1;
    const b = phi[nF]!;
    let s = b;
    for (let i = 0; i < nF; i++) s += phi[i]!;
    const slope = Math.abs(s - b) > 1e-12 ? (Math.exp(s) - Math.exp(b)) / (s - b) : Math.exp(b);
    for (let i = 0; i < nF; i++) anchor[i] += sign * slope * phi[i]!;
    anchor[nF] += sign * Math.exp(b);
    return anchor;
  }

  private treeContributions(row: ArrayLike<number>, output: number): Float64Array {
    const nF = this.a.spec.length;
    const out = new Float64Array(nF + 1);
    out[nF] = this.base[output]!;
    this.trees.forEach((t, ti) => {
      if (t.output !== output) return;
      out[nF] += t.value[0]!;
      this.shap.explain(t, this.depths[ti]!, (i) => next(t, this.cats[ti]!, i, row[t.feature[i]!]!), out);
    });
    return out;
  }

  /** Total split gain, or number of splits, per feature over all outputs, largest first. */
  importance(kind: 'gain' | 'split'): Array<{ feature: string; value: number }> {
    const acc = new Float64Array(this.a.spec.length);
    for (const t of this.a.trees) {
      for (let i = 0; i < t.feature.length; i++) {
        if (t.left[i]! >= 0) acc[t.feature[i]!] += kind === 'gain' ? t.gain[i]! : 1;
      }
    }
    return this.a.spec.map((s, f) => ({ feature: s.name, value: acc[f]! })).sort((x, y) => y.value - x.value);
  }
}
