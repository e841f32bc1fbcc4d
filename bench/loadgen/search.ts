import { runLoad } from './run-load.js';
import type { LoadOptions, LoadResult } from './types.js';

export interface Slo {
  percentile: 'p50' | 'p90' | 'p95' | 'p99' | 'p999';
  maxMs: number;
}

export interface MaxRateOptions<R extends LoadResult = LoadResult> {
  /** Everything but the rate, used for every step. */
  base: Omit<LoadOptions, 'rate'>;
  slo: Slo;
  /** An explicit ladder of rates, climbed until one fails. Otherwise startRate x growth^k. */
  rates?: number[];
  startRate?: number;
  /** Default 1.5. */
  growth?: number;
  /** Never try above this. Default 1,000,000. */
  maxRate?: number;
  /** Bisection steps between the highest passing and the lowest failing rate. Default 3. */
  refineSteps?: number;
  /** A step fails when achieved/target is below this. Default 0.97. */
  minAchievedRatio?: number;
  /**
   * Re-run a missed step this many times and keep the first pass: on a shared, noisy machine one stray stall
   * should not end the climb. Applied the same to every side, so comparisons stay fair. Default 0.
   */
  retries?: number;
  /**
   * A missed step run while the machine was busy with other work is re-run without using up `retries`, at most
   * `noisyRetries` (default 3) times: say here what "noisy" means for a result (e.g. other processes' CPU).
   */
  noisy?: (result: R) => boolean;
  noisyRetries?: number;
  /** Pause between steps so the server drains. Default 1000 ms. */
  cooldownMs?: number;
  /** How to run one step. Default: runLoad (wrap it to add CPU accounting). */
  run?: (options: LoadOptions) => Promise<R>;
  onStep?: (step: RateStep<R>) => void;
}

export interface RateStep<R extends LoadResult = LoadResult> {
  rate: number;
  pass: boolean;
  /** Why it failed, e.g. `p99 31.2 ms > 25 ms`, `timeouts 12`. Empty when it passed. */
  reasons: string[];
  result: R;
  /** 0 for the first try of this rate, 1.. for retries after a miss. */
  attempt: number;
}

export interface MaxRateResult<R extends LoadResult = LoadResult> {
  slo: Slo;
  /** The highest passing rate tried (requests/s), 0 when none passed. */
  maxRate: number;
  best: RateStep<R> | undefined;
  /** The lowest failing rate above `maxRate`; undefined when the ladder ended without a failure. */
  firstFail: RateStep<R> | undefined;
  steps: RateStep<R>[];
}

/** Why a step misses: any error, timeout or non-2xx, the latency target, or the server falling behind. */
export function judgeStep(result: LoadResult, slo: Slo, minAchievedRatio = 0.97): string[] {
  const reasons: string[] = [];
  if (result.errors > 0) reasons.push(`errors ${result.errors}`);
  if (result.timeouts > 0) reasons.push(`timeouts ${result.timeouts}`);
  if (result.non2xx > 0) reasons.push(`non-2xx ${result.non2xx}`);
  const v = result.latency[slo.percentile];
  if (result.latency.count === 0) reasons.push('no 2xx answers');
  else if (v > slo.maxMs) reasons.push(`${slo.percentile} ${v} ms > ${slo.maxMs} ms`);
  if (result.achievedRate < result.targetRate * minAchievedRatio) {
    reasons.push(`achieved ${result.achievedRate}/s < ${Math.round(minAchievedRatio * 100)}% of target`);
  }
  return reasons;
}

function niceRate(r: number): number {
  const q = r >= 5000 ? 100 : r >= 1000 ? 50 : r >= 200 ? 10 : r >= 20 ? 5 : 1;
  return Math.max(1, Math.round(r / q) * q);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Climbs rates until one misses the target, then bisects between the last pass and the first miss. Each step is a
 * full open-loop run (warm-up included). If the first rate already misses, steps down by `growth` a few times.
 */
export async function maxRateSearch<R extends LoadResult = LoadResult>(
  opts: MaxRateOptions<R>,
): Promise<MaxRateResult<R>> {
  const growth = opts.growth ?? 1.5;
  const maxRate = opts.maxRate ?? 1_000_000;
  const cooldownMs = opts.cooldownMs ?? 1000;
  const steps: RateStep<R>[] = [];
  let best: RateStep<R> | undefined;
  let firstFail: RateStep<R> | undefined;

  const run = opts.run ?? (runLoad as unknown as (o: LoadOptions) => Promise<R>);
  const tryRate = async (rate: number): Promise<RateStep<R>> => {
    let step: RateStep<R> | undefined;
    let retriesLeft = opts.retries ?? 0;
    let noisyLeft = opts.noisyRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      if (steps.length > 0 && cooldownMs > 0) await sleep(cooldownMs);
      const result = await run({ ...opts.base, rate });
      const reasons = judgeStep(result, opts.slo, opts.minAchievedRatio);
      const noisy = reasons.length > 0 && (opts.noisy?.(result) ?? false);
      if (noisy) reasons.push('machine busy with other work');
      step = { rate, pass: reasons.length === 0, reasons, result, attempt };
      steps.push(step);
      opts.onStep?.(step);
      if (step.pass) break;
      if (noisy && noisyLeft > 0) noisyLeft--;
      else if (retriesLeft > 0) retriesLeft--;
      else break;
    }
    if (!step) throw new Error('unreachable');
    if (step.pass && (!best || rate > best.rate)) best = step;
    if (!step.pass && (!firstFail || rate < firstFail.rate)) firstFail = step;
    return step;
  };

  const ladder = opts.rates ? [...opts.rates].sort((a, b) => a - b) : undefined;
  let rate = ladder ? ladder[0]! : niceRate(opts.startRate ?? 100);
  for (let k = 0; ; k++) {
    const step = await tryRate(rate);
    if (!step.pass) break;
    const nextRate = ladder ? ladder[k + 1] : niceRate(rate * growth);
    if (nextRate === undefined || nextRate > maxRate) break;
    rate = nextRate;
  }
  // Nothing passed: walk down a few times.
  for (let k = 0; !best && k < 4; k++) {
    rate = niceRate(rate / growth);
    if (steps.some((s) => s.rate === rate)) break;
    await tryRate(rate);
  }
  // Bisect between the highest pass and the lowest miss above it.
  for (let k = 0; k < (opts.refineSteps ?? 3); k++) {
    if (!best || !firstFail || firstFail.rate <= best.rate) break;
    const mid = niceRate((best.rate + firstFail.rate) / 2);
    if (mid <= best.rate || mid >= firstFail.rate) break;
    await tryRate(mid);
  }
  return { slo: opts.slo, maxRate: best?.rate ?? 0, best, firstFail, steps };
}
