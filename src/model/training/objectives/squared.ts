import type { Objective } from './objective.js';

export function squared(): Objective {
  return {
    name: 'squared',
    metric: 'rmse',
    unitHessian: true,
    initScore(target) {
      let s = 0;
      for (let i = 0; i < target.length; i++) s += target[i]!;
      return target.length > 0 ? s / target.length : 0;
    },
    gradients(target, score, grad, hess) {
      for (let i = 0; i < target.length; i++) {
        grad[i] = score[i]! - target[i]!;
        hess[i] = 1;
      }
    },
  };
}
