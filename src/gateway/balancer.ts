import {
  Counter,
  currentContext,
  EtaError,
  Gauge,
  withContext,
  type CallOptions,
  type Metrics,
  type Registry,
} from '../platform/index.js';
import type { BatchEtaRequest, EtaRequest, EtaResult, Predictor } from '../predictor/index.js';
import type { GatewayConfig } from './config.js';
import {
  BREAKER_STATE,
  breaker,
  CircuitBreaker,
  DEFAULT_BREAKER,
  type BreakerOptions,
} from './resilience/breaker.js';
import { compose, isReplicaFailure, rootContext, type Call, type CallContext } from './resilience/call.js';
import { deadline } from './resilience/deadline.js';
import { hedge } from './resilience/hedge.js';
import { DEFAULT_OUTLIER, outlier, OutlierDetector, type OutlierOptions } from './resilience/outlier.js';
import { retry } from './resilience/retry.js';
import { RetryBudget } from './resilience/retry-budget.js';

/** A predictor that can take a deadline and an abort signal per call (the HTTP client can; in-process ignores them). */
export type ReplicaPredictor = Predictor & {
  predictBatch(request: BatchEtaRequest, call?: CallOptions): Promise<EtaResult[]>;
};

export interface BalancerOptions {
  /** Deadline of a whole request, retries and hedges included. */
  requestDeadlineMs: number;
  /** Deadline of one attempt on one replica. */
  attemptTimeoutMs: number;
  retryBudgetRatio: number;
  retryBudgetMinRetries: number;
  maxAttempts: number;
  /** 0 = no hedging. */
  hedgeDelayMs: number;
  breaker: BreakerOptions;
  outlier: OutlierOptions;
}

/** The balancer's options from the gateway section. */
export function balancerOptions(config: GatewayConfig): BalancerOptions {
  return {
    requestDeadlineMs: config.requestDeadlineMs,
    attemptTimeoutMs: config.predictorTimeoutMs,
    retryBudgetRatio: config.retryBudgetRatio,
    retryBudgetMinRetries: config.retryBudgetMinRetries,
    maxAttempts: config.maxAttempts,
    hedgeDelayMs: config.hedgeDelayMs,
    breaker: {
      ...DEFAULT_BREAKER,
      consecutiveFailures: config.breakerConsecutiveFailures,
      failureRatio: config.breakerFailureRatio,
      openMs: config.breakerOpenMs,
    },
    outlier: {
      ...DEFAULT_OUTLIER,
      consecutiveFailures: config.outlierConsecutiveFailures,
      baseEjectionMs: config.outlierBaseEjectionMs,
    },
  };
}

interface Replica {
  name: string;
  predictor: ReplicaPredictor;
  inFlight: number;
  breaker: CircuitBreaker;
  outlier: OutlierDetector;
  /** Why the last readiness probe failed; undefined when it answered ready (or was never probed). */
  probeFailure?: string;
}

/** How often the balancer asks each remote replica's /readyz, so readiness is right even without traffic. */
const PROBE_INTERVAL_MS = 2000;
const PROBE_TIMEOUT_MS = 1500;

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/**
 * Spreads calls over predictor replicas by the power of two choices on in-flight calls, around replicas whose
 * breaker is open or that were ejected as outliers. Each request runs under one deadline, may be retried on
 * another replica within the retry budget, and may be hedged. A lone in-process predictor is a balancer of one.
 */
export class PredictorBalancer implements Predictor {
  private readonly replicas: Replica[];
  private readonly budget: RetryBudget;
  private readonly resilient: <T>(call: Call<T>) => Call<T>;
  private readonly attemptTimeoutMs: number;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(
    replicas: Array<{ name: string; predictor: ReplicaPredictor }>,
    options: BalancerOptions,
    metrics: Metrics,
  ) {
    if (replicas.length === 0) throw new Error('the gateway needs at least one predictor');
    const registry = metrics.registry;
    const registers = [registry];
    const state = metric(
      registry,
      'etaserve_breaker_state',
      () =>
        new Gauge({
          name: 'etaserve_breaker_state',
          help: 'Circuit breaker per predictor replica: 0 closed, 1 half-open, 2 open',
          labelNames: ['replica'],
          registers,
        }),
    );
    const ejections = metric(
      registry,
      'etaserve_outlier_ejections_total',
      () =>
        new Counter({
          name: 'etaserve_outlier_ejections_total',
          help: 'Predictor replicas ejected from balancing after consecutive failures',
          labelNames: ['replica'],
          registers,
        }),
    );
    const retries = metric(
      registry,
      'etaserve_predictor_retries_total',
      () =>
        new Counter({
          name: 'etaserve_predictor_retries_total',
          help: 'Calls retried on another predictor replica, and hedges sent',
          labelNames: ['kind'],
          registers,
        }),
    );
    this.replicas = replicas.map((r) => {
      state.set({ replica: r.name }, 0);
      return {
        ...r,
        inFlight: 0,
        breaker: new CircuitBreaker(r.name, options.breaker, (s) =>
          state.set({ replica: r.name }, BREAKER_STATE[s]),
        ),
        outlier: new OutlierDetector(options.outlier, () => ejections.inc({ replica: r.name })),
      };
    });
    this.attemptTimeoutMs = options.attemptTimeoutMs;
    this.budget = new RetryBudget({
      ratio: options.retryBudgetRatio,
      minRetries: options.retryBudgetMinRetries,
      windowMs: 10_000,
    });
    const retryable = (e: unknown): boolean => this.replicas.length > 1 && isReplicaFailure(e);
    this.resilient = compose(
      deadline(options.requestDeadlineMs),
      retry({
        budget: this.budget,
        maxAttempts: options.maxAttempts,
        retryable,
        onRetry: () => retries.inc({ kind: 'retry' }),
      }),
      hedge({
        delayMs: this.replicas.length > 1 ? options.hedgeDelayMs : 0,
        budget: this.budget,
        onHedge: () => retries.inc({ kind: 'hedge' }),
      }),
    );
  }

  async predict(request: EtaRequest): Promise<EtaResult> {
    const [result] = await this.predictBatch({ ...request, storeIds: [request.storeId] });
    return result!;
  }

  predictBatch(request: BatchEtaRequest): Promise<EtaResult[]> {
    // Retries and hedges start after awaits: each attempt restores the request's trace for its call.
    const trace = currentContext();
    return this.resilient((ctx) =>
      withContext(trace, () => this.attempt(ctx, (p, call) => p.predictBatch(request, call))),
    )(rootContext());
  }

  /** Breaker state per replica, for the console and tests. */
  states(): Array<{ name: string; breaker: string; ejected: boolean; inFlight: number }> {
    return this.replicas.map((r) => ({
      name: r.name,
      breaker: r.breaker.current,
      ejected: r.outlier.ejected,
      inFlight: r.inFlight,
    }));
  }

  /**
   * Which replicas can serve: a replica is down when its breaker is open, it was ejected, or its last readiness
   * probe failed. With none up, the gateway answers only fallback ETAs (it is degraded, not unready).
   */
  health(): { up: string[]; down: Array<{ name: string; why: string }> } {
    const up: string[] = [];
    const down: Array<{ name: string; why: string }> = [];
    for (const r of this.replicas) {
      const why =
        r.probeFailure ??
        (r.breaker.current === 'open'
          ? 'breaker open'
          : r.outlier.ejected
            ? 'ejected as an outlier'
            : undefined);
      if (why) down.push({ name: r.name, why });
      else up.push(r.name);
    }
    return { up, down };
  }

  /** Probes the remote replicas' /readyz every few seconds until stopProbes (in-process replicas are not probed). */
  startProbes(intervalMs = PROBE_INTERVAL_MS): void {
    const remote = this.replicas.filter(
      (r) => typeof (r.predictor as { baseUrl?: unknown }).baseUrl === 'string',
    );
    if (remote.length === 0 || this.probeTimer) return;
    let running = false;
    const probeAll = async (): Promise<void> => {
      if (running) return;
      running = true;
      await Promise.all(remote.map((r) => probe(r))).finally(() => (running = false));
    };
    void probeAll();
    this.probeTimer = setInterval(() => void probeAll(), intervalMs);
    this.probeTimer.unref();
  }

  stopProbes(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  /** One attempt on one replica, through its breaker and outlier detector. */
  private attempt<T>(
    ctx: CallContext,
    fn: (p: ReplicaPredictor, call: CallOptions) => Promise<T>,
  ): Promise<T> {
    const replica = this.pick(ctx.tried);
    ctx.tried.add(replica.name);
    const call: Call<T> = async (c) => {
      replica.inFlight++;
      try {
        return await fn(replica.predictor, {
          signal: c.signal,
          timeoutMs: Math.max(1, Math.floor(Math.min(this.attemptTimeoutMs, c.remainingMs()))),
        });
      } catch (e) {
        if (c.signal.aborted && !(e instanceof EtaError))
          throw new EtaError('deadline_exceeded', `${replica.name} was abandoned`, { cause: e });
        throw e;
      } finally {
        replica.inFlight--;
      }
    };
    return compose(breaker(replica.breaker), outlier(replica.outlier))(call)(ctx);
  }

  /**
   * Power of two choices among the healthy replicas not yet tried by this request. Ejection never takes more than
   * half the set; when nothing healthy is left, any replica not yet tried (its breaker answers at once).
   */
  private pick(tried: ReadonlySet<string>): Replica {
    const all = this.replicas;
    if (all.length === 1) return all[0]!;
    if (tried.size === 0 && all.every(isHealthy)) return twoChoices(all);
    const untried = all.filter((r) => !tried.has(r.name));
    const pool = untried.length > 0 ? untried : all;
    const ejected = pool.filter((r) => r.outlier.ejected).length;
    const mayEject = ejected <= Math.floor(all.length / 2);
    let healthy = pool.filter((r) => r.breaker.current !== 'open' && !(mayEject && r.outlier.ejected));
    if (healthy.length === 0) healthy = pool.filter((r) => r.breaker.current !== 'open');
    const candidates = healthy.length > 0 ? healthy : pool;
    if (candidates.length === 1) return candidates[0]!;
    return twoChoices(candidates);
  }
}

async function probe(r: Replica): Promise<void> {
  const baseUrl = (r.predictor as unknown as { baseUrl: string }).baseUrl;
  try {
    const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    r.probeFailure = res.ok ? undefined : `not ready (HTTP ${res.status})`;
  } catch (e) {
    r.probeFailure = (e as Error).name === 'TimeoutError' ? 'readiness probe timed out' : 'unreachable';
  }
}

/** The first attempt when every replica is healthy, the usual case, needs none of the filtering above. */
function isHealthy(r: Replica): boolean {
  return !r.outlier.ejected && r.breaker.current !== 'open';
}

/** Two distinct replicas at random; the one with fewer calls in flight. */
function twoChoices(candidates: readonly Replica[]): Replica {
  const i = Math.floor(Math.random() * candidates.length);
  let j = Math.floor(Math.random() * (candidates.length - 1));
  if (j >= i) j++;
  const a = candidates[i]!;
  const b = candidates[j]!;
  return a.inFlight <= b.inFlight ? a : b;
}
