import { describe, expect, it } from 'vitest';
import {
  breaker,
  CircuitBreaker,
  compose,
  createMetrics,
  deadline,
  DEFAULT_BREAKER,
  EtaError,
  hedge,
  RetryBudget,
  rootContext,
  type Call,
  type CallContext,
} from '../platform/index.js';
import type { BatchEtaRequest, EtaResult } from '../predictor/index.js';
import { PredictorBalancer, type BalancerOptions, type ReplicaPredictor } from '../predictor/index.js';

const OPTIONS: BalancerOptions = {
  requestDeadlineMs: 1000,
  attemptTimeoutMs: 500,
  retryBudgetRatio: 0.2,
  retryBudgetMinRetries: 10,
  maxAttempts: 3,
  hedgeDelayMs: 0,
  breaker: { ...DEFAULT_BREAKER, openMs: 60_000 },
  outlier: { consecutiveFailures: 3, baseEjectionMs: 60_000, maxEjectionMs: 60_000 },
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function replica(
  name: string,
  behave: () => Promise<void>,
): { name: string; predictor: ReplicaPredictor; calls: () => number } {
  let calls = 0;
  const predictBatch = async (req: BatchEtaRequest): Promise<EtaResult[]> => {
    calls++;
    await behave();
    return req.storeIds.map((storeId) => ({
      ok: true,
      value: {
        storeId,
        p10: 1,
        p50: 2,
        p90: 3,
        prepSeconds: 1,
        travelSeconds: 1,
        distanceKm: 1,
        timezone: 'UTC',
        modelVersion: name,
        degraded: false,
        degradedReasons: [],
      },
    }));
  };
  return {
    name,
    calls: () => calls,
    predictor: {
      predictBatch,
      predict: async (r) => (await predictBatch({ ...r, storeIds: [r.storeId] }))[0]!,
    },
  };
}

const request: BatchEtaRequest = { storeIds: ['s-1'], destination: { lat: 0, lng: 0 }, orderedAtMs: 0 };
const down = async (): Promise<void> => {
  throw new EtaError('upstream_unavailable', 'connection refused');
};

describe('the predictor balancer', () => {
  it('answers every call when one of two replicas is dead, and opens its breaker', async () => {
    const metrics = createMetrics({ target: 'test' });
    const good = replica('good', async () => undefined);
    const dead = replica('dead', down);
    const balancer = new PredictorBalancer([good, dead], OPTIONS, metrics);
    // Steady traffic: waves of 10 concurrent calls.
    const answers: EtaResult[][] = [];
    for (let wave = 0; wave < 20; wave++)
      answers.push(...(await Promise.all(Array.from({ length: 10 }, () => balancer.predictBatch(request)))));
    expect(answers.every((a) => a[0]!.ok)).toBe(true);
    // Ejected and broken after a few failures: the dead replica stops being tried.
    expect(dead.calls()).toBeLessThan(15);
    expect(balancer.states().find((s) => s.name === 'dead')!.breaker).toBe('open');
    expect(await metrics.registry.metrics()).toMatch(/etaserve_breaker_state\{[^}]*replica="dead"[^}]*\} 2/);
  });

  it('fails fast (for the fallback) when every replica is down, without retrying past the budget', async () => {
    const a = replica('a', down);
    const b = replica('b', down);
    const balancer = new PredictorBalancer(
      [a, b],
      {
        ...OPTIONS,
        breaker: { ...DEFAULT_BREAKER, consecutiveFailures: 1000, minCalls: 1000 },
        outlier: { ...OPTIONS.outlier, consecutiveFailures: 1000 },
      },
      createMetrics({ target: 't' }),
    );
    const outcomes = await Promise.allSettled(
      Array.from({ length: 100 }, () => balancer.predictBatch(request)),
    );
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    // 100 requests, retries capped at max(10, 20%) = 20.
    expect(a.calls() + b.calls()).toBeLessThanOrEqual(120);
  });

  it('does not retry an answer that would fail the same everywhere', async () => {
    const bad = replica('a', async () => {
      throw new EtaError('bad_request', 'no', { field: 'x' });
    });
    const other = replica('b', async () => undefined);
    const balancer = new PredictorBalancer([bad, other], OPTIONS, createMetrics({ target: 't' }));
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () => balancer.predictBatch(request)),
    );
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    expect(rejected.length).toBe(bad.calls());
  });

  it('hedges a slow replica: the first answer wins', async () => {
    const slow = replica('slow', () => sleep(300));
    const fast = replica('fast', async () => undefined);
    const balancer = new PredictorBalancer(
      [slow, fast],
      { ...OPTIONS, hedgeDelayMs: 20 },
      createMetrics({ target: 't' }),
    );
    const answers = await Promise.all(Array.from({ length: 10 }, () => balancer.predictBatch(request)));
    const versions = answers.map((a) => (a[0]!.ok ? a[0]!.value.modelVersion : 'error'));
    expect(versions.every((v) => v === 'fast')).toBe(true);
  });
});

describe('the resilience wrappers', () => {
  it('a deadline rejects with deadline_exceeded and aborts the attempt', async () => {
    let aborted = false;
    const call = deadline(30)(async (ctx) => {
      ctx.signal.addEventListener('abort', () => (aborted = true));
      await sleep(200);
      return 1;
    });
    await expect(call(rootContext())).rejects.toMatchObject({ code: 'deadline_exceeded' });
    expect(aborted).toBe(true);
  });

  it('a hedge that is not needed is never sent', async () => {
    let calls = 0;
    const call = hedge({ delayMs: 50, budget: new RetryBudget() })(async () => ++calls);
    expect(await call(rootContext())).toBe(1);
    await sleep(80);
    expect(calls).toBe(1);
  });

  it('the retry budget allows 20% of the load, with a floor', () => {
    let now = 0;
    const budget = new RetryBudget({ ratio: 0.2, minRetries: 3, windowMs: 10_000 }, () => now);
    let granted = 0;
    for (let i = 0; i < 1000; i++) {
      budget.request();
      if (budget.tryRetry()) granted++;
    }
    expect(granted).toBe(200);
    now = 30_000;
    const quiet = [budget.tryRetry(), budget.tryRetry(), budget.tryRetry(), budget.tryRetry()];
    expect(quiet).toEqual([true, true, true, false]);
  });

  it('a breaker opens, refuses, lets one probe through after its open time, and closes on success', () => {
    let now = 0;
    const states: string[] = [];
    const b = new CircuitBreaker(
      'r',
      { ...DEFAULT_BREAKER, consecutiveFailures: 3, openMs: 1000 },
      (s) => states.push(s),
      () => now,
    );
    for (let i = 0; i < 3; i++) {
      expect(b.admit()).toBe(true);
      b.failure();
    }
    expect(b.admit()).toBe(false);
    now = 1000;
    expect(b.admit()).toBe(true);
    expect(b.admit()).toBe(false);
    b.success();
    expect(b.admit()).toBe(true);
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });
});

describe('breaker outcomes of cancelled attempts', () => {
  /** A breaker on a fake clock, tripped open and past its open time: the next call is its one probe. */
  const halfOpen = (): CircuitBreaker => {
    let now = 0;
    const b = new CircuitBreaker(
      'r',
      { ...DEFAULT_BREAKER, consecutiveFailures: 1, openMs: 1000 },
      undefined,
      () => now,
    );
    b.failure();
    now = 1000;
    expect(b.current).toBe('half-open');
    return b;
  };
  /** A replica that never answers: the attempt ends only when it is cancelled, as the HTTP client's does. */
  const hung: Call<string> = (ctx: CallContext) =>
    new Promise((_, reject) =>
      ctx.signal.addEventListener('abort', () => reject(new EtaError('deadline_exceeded', 'abandoned'))),
    );
  const answers: Call<string> = async () => 'answer';

  it('a probe cut short by the deadline is a failure: the breaker reopens instead of closing', async () => {
    const b = halfOpen();
    await expect(deadline(20)(breaker(b)(hung))(rootContext())).rejects.toMatchObject({
      code: 'deadline_exceeded',
    });
    // The rejection reaches the breaker once the attempt itself has ended.
    await sleep(10);
    expect(b.current).toBe('open');
  });

  /** Two attempts raced by a hedge: the first on `first` (hung), the hedge on `second`, which answers. */
  const race = async (first: CircuitBreaker, second: CircuitBreaker): Promise<string> => {
    let attempts = 0;
    const attempt: Call<string> = (ctx) =>
      attempts++ === 0 ? breaker(first)(hung)(ctx) : breaker(second)(answers)(ctx);
    const hedged = compose(deadline(2000), hedge({ delayMs: 10, budget: new RetryBudget() }))(attempt);
    const value = await hedged(rootContext());
    await sleep(10);
    return value;
  };

  it('a probe that lost a hedge race is not a success: the breaker stays half-open and may probe again', async () => {
    const b = halfOpen();
    expect(await race(b, new CircuitBreaker('other'))).toBe('answer');
    expect(b.current).toBe('half-open');
    // Its probe slot is free again for the next call.
    expect(b.admit()).toBe(true);
    expect(b.admit()).toBe(false);
  });

  it('a lost hedge is not a failure either, and does not reset the failure streak', async () => {
    const b = new CircuitBreaker('r', { ...DEFAULT_BREAKER, consecutiveFailures: 3, openMs: 60_000 });
    b.failure();
    b.failure();
    expect(await race(b, new CircuitBreaker('other'))).toBe('answer');
    expect(b.current).toBe('closed');
    // The streak is still two: one more failure opens it.
    b.failure();
    expect(b.current).toBe('open');
  });
});
