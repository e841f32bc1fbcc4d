/** A training loss: gradients, a starting score, and optionally a better leaf value than Newton's step. */
export interface Objective {
  readonly name: 'squared' | 'quantile';
  readonly quantile?: number;
  /** The metric early stopping watches (see metrics.ts). */
  readonly metric: 'rmse' | 'pinball';
  /** Every hessian is 1, so histograms need not read them. */
  readonly unitHessian: boolean;
  initScore(target: Float64Array): number;
  gradients(target: Float64Array, score: Float64Array, grad: Float32Array, hess: Float32Array): void;
  /** Leaf value from the residuals (target - score) of its rows; may reorder `residuals`. */
  renewLeaf?(residuals: Float64Array): number;
}

/** Value at fraction q of the sorted data, linearly interpolated; reorders `a`. */
export function percentile(a: Float64Array, q: number): number {
  const n = a.length;
  if (n === 0) return 0;
  const pos = q * (n - 1);
  const k = Math.floor(pos);
  const lo = select(a, k);
  if (k + 1 >= n || pos === k) return lo;
  let next = Infinity;
  for (let i = k + 1; i < n; i++) if (a[i]! < next) next = a[i]!;
  return lo + (pos - k) * (next - lo);
}

/** Hoare quickselect: a[k] ends up as the k-th smallest, smaller values before it, larger after. */
function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const pivot = a[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k]!;
}
