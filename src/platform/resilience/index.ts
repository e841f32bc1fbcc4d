export {
  BREAKER_STATE,
  breaker,
  CircuitBreaker,
  DEFAULT_BREAKER,
  type BreakerOptions,
  type BreakerState,
} from './breaker.js';
export {
  compose,
  HedgeLost,
  isReplicaFailure,
  lostHedge,
  rootContext,
  type Call,
  type CallContext,
  type Wrapper,
} from './call.js';
export { afterWaitingIo, deadline } from './deadline.js';
export { hedge, type HedgeOptions } from './hedge.js';
export { DEFAULT_OUTLIER, outlier, OutlierDetector, type OutlierOptions } from './outlier.js';
export { retry, type RetryOptions } from './retry.js';
export { RetryBudget } from './retry-budget.js';
