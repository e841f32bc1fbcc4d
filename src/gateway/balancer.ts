import { EtaError } from '../platform/index.js';
import type { BatchEtaRequest, EtaResult, Predictor } from '../predictor/index.js';

interface Replica {
  name: string;
  predictor: Predictor;
  inFlight: number;
}

/**
 * Spreads calls over predictor replicas by the power of two choices on in-flight calls, and retries a failed call
 * once on another replica. A lone in-process predictor is just a balancer of one.
 */
export class PredictorBalancer implements Predictor {
  private readonly replicas: Replica[];

  constructor(replicas: Array<{ name: string; predictor: Predictor }>) {
    if (replicas.length === 0) throw new Error('the gateway needs at least one predictor');
    this.replicas = replicas.map((r) => ({ ...r, inFlight: 0 }));
  }

  predict(request: Parameters<Predictor['predict']>[0]): Promise<EtaResult> {
    return this.call((p) => p.predict(request));
  }

  predictBatch(request: BatchEtaRequest): Promise<EtaResult[]> {
    return this.call((p) => p.predictBatch(request));
  }

  private pick(exclude?: Replica): Replica {
    const candidates = exclude ? this.replicas.filter((r) => r !== exclude) : this.replicas;
    if (candidates.length === 1) return candidates[0]!;
    const a = candidates[Math.floor(Math.random() * candidates.length)]!;
    let b = candidates[Math.floor(Math.random() * candidates.length)]!;
    if (b === a) b = candidates[(candidates.indexOf(a) + 1) % candidates.length]!;
    return a.inFlight <= b.inFlight ? a : b;
  }

  private async call<T>(fn: (p: Predictor) => Promise<T>): Promise<T> {
    const first = this.pick();
    try {
      return await this.attempt(first, fn);
    } catch (e) {
      if (this.replicas.length < 2 || !isRetryable(e)) throw e;
      return this.attempt(this.pick(first), fn);
    }
  }

  private async attempt<T>(replica: Replica, fn: (p: Predictor) => Promise<T>): Promise<T> {
    replica.inFlight++;
    try {
      return await fn(replica.predictor);
    } finally {
      replica.inFlight--;
    }
  }
}

function isRetryable(e: unknown): boolean {
  return e instanceof EtaError && (e.code === 'upstream_unavailable' || e.code === 'deadline_exceeded' || e.code === 'model_not_loaded' || e.code === 'overloaded');
}
