import {
  BREAKER_STATE,
  breaker,
  CircuitBreaker,
  compose,
  Counter,
  currentContext,
  deadline,
  DEFAULT_BREAKER,
  DEFAULT_OUTLIER,
  EtaError,
  fetchWithin,
  Gauge,
  hedge,
  isReplicaFailure,
  outlier,
  OutlierDetector,
  retry,
  RetryBudget,
  rootContext,
  withContext,
  type BreakerOptions,
  type Call,
  type CallContext,
  type CallOptions,
  type Metrics,
  type OutlierOptions,
  type Registry,
} from '../../platform/index.js';
import type { BatchEtaRequest, EtaRequest, EtaResult, Predictor } from '../types.js';
import { asBatch } from '../wire.js';

/** A predictor that can take a deadline and an abort signal per call (the HTTP client can; in-process ignores them). */
export type ReplicaPredictor = Predictor & {
  predictBatch(request: BatchEtaRequest, call?: CallOptions): Promise<EtaResult[]>;
  /** Releases its connections; called once a replica removed from the set has no call in flight. */
  close?(): Promise<void>;
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

/** The gateway section's settings of how its calls spread over predictor replicas. */
export interface BalancerSettings {
  requestDeadlineMs: number;
  predictorTimeoutMs: number;
  retryBudgetRatio: number;
  retryBudgetMinRetries: number;
  maxAttempts: number;
  hedgeDelayMs: number;
  breakerConsecutiveFailures: number;
  breakerFailureRatio: number;
  breakerOpenMs: number;
  outlierConsecutiveFailures: number;
  outlierBaseEjectionMs: number;
}

/** The balancer's options from the gateway section. */
export function balancerOptions(config: BalancerSettings): BalancerOptions {
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
  /** Added by discovery and not yet ready: probed, never picked. */
  warming: boolean;
  /** Gone from discovery: no new calls; closed once the calls in flight finish. */
  removed: boolean;
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
  /** Every known replica, warming ones included. Replaced, never mutated, so a loop over it sees one set. */
  private replicas: Replica[];
  /** The replicas that may be picked: known and not warming. */
  private serving: Replica[];
  private readonly budget: RetryBudget;
  /** With hedging, for two replicas or more; and without, for one (a hedge to the same replica helps nothing). */
  private readonly resilientMany: <T>(call: Call<T>) => Call<T>;
  private readonly resilientOne: <T>(call: Call<T>) => Call<T>;
  private readonly attemptTimeoutMs: number;
  private readonly options: BalancerOptions;
  private readonly state: Gauge;
  private readonly ejections: Counter;
  /** Discovery may start with no replica (nothing resolved yet): calls then fail over to the fallback ETAs. */
  private readonly dynamic: boolean;
  private connectionFailed: ((replica: string) => void) | undefined;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(
    replicas: Array<{ name: string; predictor: ReplicaPredictor }>,
    options: BalancerOptions,
    metrics: Metrics,
    init: { dynamic?: boolean } = {},
  ) {
    this.dynamic = init.dynamic ?? false;
    if (replicas.length === 0 && !this.dynamic) throw new Error('the gateway needs at least one predictor');
    this.options = options;
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
    this.state = state;
    this.ejections = ejections;
    this.replicas = replicas.map((r) => this.replica(r.name, r.predictor, false));
    this.serving = this.replicas;
    this.attemptTimeoutMs = options.attemptTimeoutMs;
    this.budget = new RetryBudget({
      ratio: options.retryBudgetRatio,
      minRetries: options.retryBudgetMinRetries,
      windowMs: 10_000,
    });
    const retryable = (e: unknown): boolean => this.serving.length > 1 && isReplicaFailure(e);
    const pipeline = (hedgeDelayMs: number): (<T>(call: Call<T>) => Call<T>) =>
      compose(
        deadline(options.requestDeadlineMs),
        retry({
          budget: this.budget,
          maxAttempts: options.maxAttempts,
          retryable,
          onRetry: () => retries.inc({ kind: 'retry' }),
        }),
        hedge({ delayMs: hedgeDelayMs, budget: this.budget, onHedge: () => retries.inc({ kind: 'hedge' }) }),
      );
    this.resilientMany = pipeline(options.hedgeDelayMs);
    this.resilientOne = pipeline(0);
  }

  private replica(name: string, predictor: ReplicaPredictor, warming: boolean): Replica {
    const { state, ejections } = this;
    state.set({ replica: name }, 0);
    const r: Replica = {
      name,
      predictor,
      inFlight: 0,
      warming,
      removed: false,
      // A removed replica's last calls may still move its breaker: its series stays removed.
      breaker: new CircuitBreaker(name, this.options.breaker, (s) => {
        if (!r.removed) state.set({ replica: name }, BREAKER_STATE[s]);
      }),
      outlier: new OutlierDetector(this.options.outlier, () => {
        if (!r.removed) ejections.inc({ replica: name });
      }),
    };
    return r;
  }

  /** Called when a call or probe could not connect to a replica (refused, reset): discovery re-resolves. */
  onConnectionFailure(listener: (replica: string) => void): void {
    this.connectionFailed = listener;
  }

  /**
   * Makes the replica set the given one (discovery calls this after each resolution). A new replica warms up
   * first: it is picked only once its /readyz answered ready (probed now, and again on every probe tick). A
   * replica no longer wanted gets no new call; its calls in flight finish, then its connections close. Its
   * metric series are removed, so a pod gone for good leaves no breaker state behind.
   */
  async reconcile(
    wanted: ReadonlyMap<string, () => ReplicaPredictor>,
  ): Promise<{ added: string[]; removed: string[] }> {
    const added: string[] = [];
    const removed: string[] = [];
    const kept = this.replicas.filter((r) => {
      if (wanted.has(r.name)) return true;
      r.removed = true;
      removed.push(r.name);
      this.state.remove({ replica: r.name });
      this.ejections.remove({ replica: r.name });
      if (r.inFlight === 0) void closeReplica(r);
      return false;
    });
    const known = new Set(kept.map((r) => r.name));
    for (const [name, make] of wanted) {
      if (known.has(name)) continue;
      const predictor = make();
      kept.push(this.replica(name, predictor, isRemote(predictor)));
      added.push(name);
    }
    this.setReplicas(kept);
    await Promise.all(this.replicas.filter((r) => r.warming).map((r) => this.probe(r)));
    return { added, removed };
  }

  /** Stops the probes and closes every replica's connections (the process is stopping). */
  async close(): Promise<void> {
    this.stopProbes();
    const all = this.replicas;
    this.setReplicas([]);
    await Promise.all(all.map((r) => closeReplica(r)));
  }

  private setReplicas(replicas: Replica[]): void {
    this.replicas = replicas;
    this.serving = replicas.filter((r) => !r.warming);
  }

  async predict(request: EtaRequest): Promise<EtaResult> {
    const [result] = await this.predictBatch(asBatch(request));
    return result!;
  }

  predictBatch(request: BatchEtaRequest): Promise<EtaResult[]> {
    // Retries and hedges start after awaits: each attempt restores the request's trace for its call.
    const trace = currentContext();
    const resilient = this.serving.length > 1 ? this.resilientMany : this.resilientOne;
    return resilient((ctx) =>
      withContext(trace, () => this.attempt(ctx, (p, call) => p.predictBatch(request, call))),
    )(rootContext());
  }

  /** Breaker state per replica, for the console and tests. */
  states(): Array<{ name: string; breaker: string; ejected: boolean; inFlight: number; warming: boolean }> {
    return this.replicas.map((r) => ({
      name: r.name,
      breaker: r.breaker.current,
      ejected: r.outlier.ejected,
      inFlight: r.inFlight,
      warming: r.warming,
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
        (r.warming ? `warming up${r.probeFailure ? ` (${r.probeFailure})` : ''}` : undefined) ??
        r.probeFailure ??
        (r.breaker.current === 'open'
          ? 'breaker open'
          : r.outlier.ejected
            ? 'ejected as an outlier'
            : undefined);
      if (why) down.push({ name: r.name, why });
      else up.push(r.name);
    }
    // Discovery has not found one address yet: say so rather than list nothing.
    if (this.replicas.length === 0)
      down.push({ name: 'discovery', why: 'no predictor address resolved yet' });
    return { up, down };
  }

  /** Probes the remote replicas' /readyz every few seconds until stopProbes (in-process replicas are not probed). */
  startProbes(intervalMs = PROBE_INTERVAL_MS): void {
    const anyRemote = this.replicas.some((r) => isRemote(r.predictor));
    if ((!anyRemote && !this.dynamic) || this.probeTimer) return;
    let running = false;
    // The set as it is at each tick: discovery adds and removes replicas.
    const probeAll = async (): Promise<void> => {
      if (running) return;
      running = true;
      const remote = this.replicas.filter((r) => isRemote(r.predictor));
      await Promise.all(remote.map((r) => this.probe(r))).finally(() => (running = false));
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
    if (this.serving.length === 0)
      return Promise.reject(
        new EtaError(
          'upstream_unavailable',
          this.replicas.length === 0
            ? 'no predictor replica is known yet'
            : 'every predictor replica is still warming up',
        ),
      );
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
        if (isConnectionFailure(e)) this.connectionFailed?.(replica.name);
        if (c.signal.aborted && !(e instanceof EtaError))
          throw new EtaError('deadline_exceeded', `${replica.name} was abandoned`, { cause: e });
        throw e;
      } finally {
        replica.inFlight--;
        if (replica.removed && replica.inFlight === 0) void closeReplica(replica);
      }
    };
    return compose(breaker(replica.breaker), outlier(replica.outlier))(call)(ctx);
  }

  /**
   * Power of two choices among the healthy replicas not yet tried by this request. Ejection never takes more than
   * half the set; when nothing healthy is left, any replica not yet tried (its breaker answers at once).
   */
  private pick(tried: ReadonlySet<string>): Replica {
    const all = this.serving;
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

  /** One readiness probe; a warming replica that answers ready starts taking calls. */
  private async probe(r: Replica): Promise<void> {
    const predictor = r.predictor as unknown as { baseUrl?: string };
    if (typeof predictor.baseUrl !== 'string') return;
    try {
      r.probeFailure = await fetchWithin(`${predictor.baseUrl}/readyz`, PROBE_TIMEOUT_MS, async (res) => {
        await res.body?.cancel();
        return res.ok ? undefined : `not ready (HTTP ${res.status})`;
      });
    } catch (e) {
      r.probeFailure = (e as Error).name === 'TimeoutError' ? 'readiness probe timed out' : 'unreachable';
      if (!r.removed && isConnectionFailure(e)) this.connectionFailed?.(r.name);
    }
    if (r.warming && r.probeFailure === undefined && !r.removed) {
      r.warming = false;
      this.setReplicas(this.replicas);
    }
  }
}

function isRemote(predictor: ReplicaPredictor): boolean {
  return typeof (predictor as { baseUrl?: unknown }).baseUrl === 'string';
}

async function closeReplica(r: Replica): Promise<void> {
  await r.predictor.close?.().catch(() => undefined);
}

/** Error codes of a connection that could not be made or was cut: the address may be gone, so resolve again. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Whether an error, its causes or (happy eyeballs) any of its aggregated errors is a connection failure. */
export function isConnectionFailure(e: unknown, depth = 0): boolean {
  if (!e || typeof e !== 'object' || depth > 5) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  const errors = (e as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.some((x) => isConnectionFailure(x, depth + 1))) return true;
  return isConnectionFailure((e as { cause?: unknown }).cause, depth + 1);
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
