import { isReplicaFailure, lostHedge, type Call } from './call.js';

export interface OutlierOptions {
  /** Ejected after this many failures in a row. */
  consecutiveFailures: number;
  /** Ejection time, multiplied by how many times the replica was ejected in a row. */
  baseEjectionMs: number;
  maxEjectionMs: number;
}

export const DEFAULT_OUTLIER: OutlierOptions = {
  consecutiveFailures: 3,
  baseEjectionMs: 1_000,
  maxEjectionMs: 30_000,
};

/**
 * Passive outlier detection, as Envoy does it: a replica whose calls keep failing leaves the balancing set for a
 * while, longer each time it is ejected again. The balancer never ejects more than half the replicas (see
 * `PredictorBalancer`), so a shared fault cannot empty the set.
 */
export class OutlierDetector {
  private consecutive = 0;
  private ejections = 0;
  private ejectedUntil = 0;

  constructor(
    private readonly options: OutlierOptions = DEFAULT_OUTLIER,
    private readonly onEject: () => void = () => undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get ejected(): boolean {
    return this.now() < this.ejectedUntil;
  }

  success(): void {
    this.consecutive = 0;
    if (!this.ejected) this.ejections = 0;
  }

  failure(): void {
    this.consecutive++;
    if (this.consecutive < this.options.consecutiveFailures || this.ejected) return;
    this.ejections++;
    this.consecutive = 0;
    this.ejectedUntil =
      this.now() + Math.min(this.options.maxEjectionMs, this.options.baseEjectionMs * this.ejections);
    this.onEject();
  }
}

export function outlier(detector: OutlierDetector) {
  return <T>(call: Call<T>): Call<T> =>
    async (ctx) => {
      try {
        const value = await call(ctx);
        detector.success();
        return value;
      } catch (e) {
        // As for the breaker: a deadline is a failure, a lost hedge is nothing.
        if (!lostHedge(ctx) && (isReplicaFailure(e) || ctx.signal.aborted)) detector.failure();
        throw e;
      }
    };
}
