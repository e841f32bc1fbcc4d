import type { ArtifactTree } from './artifact.js';

/**
 * Exact TreeSHAP (Lundberg et al. 2018, Algorithm 2) for one tree, path-dependent: the
 * "background" is the training cover stored in each node, as XGBoost's pred_contribs does.
 * Adds each feature's SHAP value for the row to phi. Internal values must be the cover-weighted
 * means of fillInternalValues; the tree's expected value is then t.value[0].
 */
interface PathElement {
  d: number;
  z: number;
  o: number;
  w: number;
}

function extend(m: PathElement[], pz: number, po: number, pi: number): void {
  const l = m.length;
  m.push({ d: pi, z: pz, o: po, w: l === 0 ? 1 : 0 });
  for (let i = l - 1; i >= 0; i--) {
    m[i + 1]!.w += (po * m[i]!.w * (i + 1)) / (l + 1);
    m[i]!.w = (pz * m[i]!.w * (l - i)) / (l + 1);
  }
}

function unwind(m: PathElement[], i: number): void {
  const l = m.length - 1;
  let n = m[l]!.w;
  const { o, z } = m[i]!;
  for (let j = l - 1; j >= 0; j--) {
    if (o !== 0) {
      const t = m[j]!.w;
      m[j]!.w = (n * (l + 1)) / ((j + 1) * o);
      n = t - (m[j]!.w * z * (l - j)) / (l + 1);
    } else {
      m[j]!.w = (m[j]!.w * (l + 1)) / (z * (l - j));
    }
  }
  for (let j = i; j < l; j++) {
    m[j]!.d = m[j + 1]!.d;
    m[j]!.z = m[j + 1]!.z;
    m[j]!.o = m[j + 1]!.o;
  }
  m.pop();
}

/** Sum of the path weights if element i were unwound, without changing the path. */
function unwoundSum(m: PathElement[], i: number): number {
  const l = m.length - 1;
  const { o, z } = m[i]!;
  let n = m[l]!.w;
  let total = 0;
  for (let j = l - 1; j >= 0; j--) {
    if (o !== 0) {
      const t = (n * (l + 1)) / ((j + 1) * o);
      total += t;
      n = m[j]!.w - (t * z * (l - j)) / (l + 1);
    } else {
      total += (m[j]!.w / z / (l - j)) * (l + 1);
    }
  }
  return total;
}

export function treeShap(t: ArtifactTree, hotChild: (node: number) => number, phi: Float64Array): void {
  const recurse = (j: number, parent: PathElement[], pz: number, po: number, pi: number): void => {
    const m = parent.map((e) => ({ ...e }));
    extend(m, pz, po, pi);
    if (t.left[j]! < 0) {
      for (let i = 1; i < m.length; i++) phi[m[i]!.d] += unwoundSum(m, i) * (m[i]!.o - m[i]!.z) * t.value[j]!;
      return;
    }
    const hot = hotChild(j);
    const cold = hot === t.left[j] ? t.right[j]! : t.left[j]!;
    const d = t.feature[j]!;
    let iz = 1;
    let io = 1;
    const k = m.findIndex((e, idx) => idx > 0 && e.d === d);
    if (k > 0) {
      iz = m[k]!.z;
      io = m[k]!.o;
      unwind(m, k);
    }
    // Children's covers, not the parent's, so the shares sum to 1 even if stored covers drift.
    const cover = t.cover[hot]! + t.cover[cold]!;
    const share = (c: number): number => (cover > 0 ? t.cover[c]! / cover : 0.5);
    recurse(hot, m, iz * share(hot), io, d);
    recurse(cold, m, iz * share(cold), 0, d);
  };
  recurse(0, [], 1, 1, -1);
}
