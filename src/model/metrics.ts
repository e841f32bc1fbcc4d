/** Evaluation metrics over (target, prediction); lower is better for all of them. */
export type Metric = (target: ArrayLike<number>, pred: ArrayLike<number>, quantile?: number) => number;

export function rmse(target: ArrayLike<number>, pred: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < target.length; i++) {
    const e = pred[i]! - target[i]!;
    s += e * e;
  }
  return Math.sqrt(s / Math.max(1, target.length));
}

export function mae(target: ArrayLike<number>, pred: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < target.length; i++) s += Math.abs(pred[i]! - target[i]!);
  return s / Math.max(1, target.length);
}

export function pinball(target: ArrayLike<number>, pred: ArrayLike<number>, q = 0.5): number {
  let s = 0;
  for (let i = 0; i < target.length; i++) {
    const e = target[i]! - pred[i]!;
    s += e >= 0 ? q * e : (q - 1) * e;
  }
  return s / Math.max(1, target.length);
}

export const METRICS: Record<'rmse' | 'mae' | 'pinball', Metric> = { rmse, mae, pinball };
