import type { Objective } from './objective.js';
import { quantile } from './quantile.js';
import { squared } from './squared.js';

export type { Objective } from './objective.js';

/** Objective name -> factory; the quantile is ignored by objectives that have none. */
export const OBJECTIVES: Record<'squared' | 'quantile', (quantile: number) => Objective> = {
  squared: () => squared(),
  quantile: (q) => quantile(q),
};
