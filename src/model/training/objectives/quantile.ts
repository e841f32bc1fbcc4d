import { percentile, type Objective } from './objective.js';

/**
 * Pinball loss. Its gradient is a sign, so Newton leaf values would only count rows above and below;
 * each leaf is renewed to the alpha-percentile of its residuals instead (as LightGBM does).
 */
export function quantile(alpha: number): Objective {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`quantile must be in (0, 1), got ${alpha}`);
  return {
    name: 'quantile',
    quantile: alpha,
    metric: 'pinball',
    unitHessian: true,
    initScore(target) {
      return percentile(Float64Array.from(target), alpha);
    },
    gradients(target, score, grad, hess) {
      const below = 1 - alpha;
      for (let i = 0; i < target.length; i++) {
        grad[i] = score[i]! >= target[i]! ? below : -alpha;
        hess[i] = 1;
      }
    },
    renewLeaf(residuals) {
      return percentile(residuals, alpha);
    },
  };
}
