import type { ArtifactTree } from '../formats/artifact.js';

/**
 * Exact TreeSHAP (Lundberg et al. 2018, Algorithm 2), path-dependent: the "background" is the
 * training cover stored in each node, as in XGBoost's pred_contribs. Internal values must be the
 * cover-weighted means of fillInternalValues; the tree's expected value is then t.value[0].
 *
 * The paths of all recursion levels live in flat arrays: level k's path starts right after level
 * k-1's, as in the reference implementation, so a call allocates only when a deeper tree arrives.
 */
export class TreeShap {
  private d = new Int32Array(0);
  private z = new Float64Array(0);
  private o = new Float64Array(0);
  private w = new Float64Array(0);

  private ensure(depth: number): void {
    const need = ((depth + 2) * (depth + 3)) / 2;
    if (this.d.length >= need) return;
    this.d = new Int32Array(need);
    this.z = new Float64Array(need);
    this.o = new Float64Array(need);
    this.w = new Float64Array(need);
  }

  private extend(p: number, len: number, pz: number, po: number, pi: number): void {
    const { d, z, o, w } = this;
    d[p + len] = pi;
    z[p + len] = pz;
    o[p + len] = po;
    w[p + len] = len === 0 ? 1 : 0;
    for (let i = len - 1; i >= 0; i--) {
      w[p + i + 1] += (po * w[p + i]! * (i + 1)) / (len + 1);
      w[p + i] = (pz * w[p + i]! * (len - i)) / (len + 1);
    }
  }

  private unwind(p: number, len: number, i: number): void {
    const { d, z, o, w } = this;
    const l = len - 1;
    let n = w[p + l]!;
    const oi = o[p + i]!;
    const zi = z[p + i]!;
    for (let j = l - 1; j >= 0; j--) {
      if (oi !== 0) {
        const t = w[p + j]!;
        w[p + j] = (n * (l + 1)) / ((j + 1) * oi);
        n = t - (w[p + j]! * zi * (l - j)) / (l + 1);
      } else {
        w[p + j] = (w[p + j]! * (l + 1)) / (zi * (l - j));
      }
    }
    for (let j = i; j < l; j++) {
      d[p + j] = d[p + j + 1]!;
      z[p + j] = z[p + j + 1]!;
      o[p + j] = o[p + j + 1]!;
    }
  }

  private unwoundSum(p: number, len: number, i: number): number {
    const { z, o, w } = this;
    const l = len - 1;
    const oi = o[p + i]!;
    const zi = z[p + i]!;
    let n = w[p + l]!;
    let total = 0;
    for (let j = l - 1; j >= 0; j--) {
      if (oi !== 0) {
        const t = (n * (l + 1)) / ((j + 1) * oi);
        total += t;
        n = w[p + j]! - (t * zi * (l - j)) / (l + 1);
      } else {
        total += (w[p + j]! / zi / (l - j)) * (l + 1);
      }
    }
    return total;
  }

  /** Adds the row's SHAP value of every feature for tree t to phi; `hot` gives the child the row takes. */
  explain(t: ArtifactTree, depth: number, hot: (node: number) => number, phi: Float64Array): void {
    this.ensure(depth);
    const { d, z, o, w } = this;
    const recurse = (j: number, parent: number, len: number, pz: number, po: number, pi: number): void => {
      // This level's path: a copy of the parent's, then extended by the edge that led here.
      const p = parent + len;
      d.copyWithin(p, parent, parent + len);
      z.copyWithin(p, parent, parent + len);
      o.copyWithin(p, parent, parent + len);
      w.copyWithin(p, parent, parent + len);
      this.extend(p, len, pz, po, pi);
      let n = len + 1;
      if (t.left[j]! < 0) {
        for (let i = 1; i < n; i++)
          phi[d[p + i]!] += this.unwoundSum(p, n, i) * (o[p + i]! - z[p + i]!) * t.value[j]!;
        return;
      }
      const h = hot(j);
      const c = h === t.left[j] ? t.right[j]! : t.left[j]!;
      const f = t.feature[j]!;
      let iz = 1;
      let io = 1;
      for (let k = 1; k < n; k++) {
        if (d[p + k] !== f) continue;
        iz = z[p + k]!;
        io = o[p + k]!;
        this.unwind(p, n, k);
        n--;
        break;
      }
      // Children's covers, not the parent's, so the shares sum to 1 even if stored covers drift.
      const cover = t.cover[h]! + t.cover[c]!;
      const share = (x: number): number => (cover > 0 ? t.cover[x]! / cover : 0.5);
      recurse(h, p, n, iz * share(h), io, f);
      recurse(c, p, n, iz * share(c), 0, f);
    };
    recurse(0, 0, 0, 1, 1, -1);
  }
}
