/**
 * Everything `npm run bench:peak` runs with: durations, fixed rates, search ladders, latency targets. `--quick`
 * shrinks it to a few seconds per scenario, enough to prove the harness works in CI.
 */
import type { Slo } from '../loadgen/index.js';

export interface SearchConfig {
  startRate: number;
  /** Re-runs of a missed step (noisy machine). */
  retries: number;
  growth: number;
  refineSteps: number;
  slo: Slo;
}

export interface EndpointConfig {
  /** Fixed open-loop rates (requests/s), each run on every side in turn. */
  fixedRates: number[];
  search: SearchConfig;
}

export interface PeakConfig {
  quick: boolean;
  warmupSec: number;
  durationSec: number;
  connections: number;
  timeoutMs: number;
  cooldownMs: number;
  /** Run the max-rate searches (off with --no-search: fixed rates only, when the machine is too busy). */
  search: boolean;
  single: EndpointConfig;
  /** Rates here are requests/s of 50 rows each. */
  batch: EndpointConfig;
  ceiling: { sloP99Ms: number };
  /**
   * Shared machine: before each run wait up to `waitMs` for it to be under `cores` busy, and treat a missed search
   * step during which other processes used more than `noisyOthersCores` as noise (re-run, up to 3 times).
   */
  quiet: { waitMs: number; cores: number; noisyOthersCores: number };
  /** Scenario 1 targets: etaserve vs the peer, same run. */
  targets: { singleThroughputRatio: number; batchRowsRatio: number };
  /** Scenarios 2-5 (issue 6). */
  platform: PlatformConfig;
}

/** A platform endpoint: fixed rates, the search, and the target (rate with latency bounds, no errors). */
export interface PlatformEndpoint extends EndpointConfig {
  target: { rate: number; p95Ms?: number; p99Ms: number };
}

export interface PlatformConfig {
  /** The simulated city every shape serves; `days` of history for model v1 (training is most of a first start). */
  city: { stores: number; days: number; trees?: number };
  /** Scenario 2: POST /v1/eta on embedded `etaserve start`. */
  embedded: PlatformEndpoint;
  /** Scenario 3: POST /v1/eta on `etaserve up --predictors 2`, without and with Redis. */
  cluster: PlatformEndpoint;
  /** Scenario 4: POST /v1/eta/batch of 50 (rates in batches/s), on both shapes. */
  batch: PlatformEndpoint;
  /** Scenario 5: scenario 3's load plus events, a promotion at the middle. */
  mixed: {
    etaRate: number;
    eventsPerSec: number;
    eventsPerRequest: number;
    durationSec: number;
    maxSpike: number;
  };
  memory: { predictorMb: number; embeddedMb: number };
  /** `node --cpu-prof` of the embedded server at a fixed rate, where a target is missed (off in --quick). */
  profile: { enabled: boolean; rate: number; durationSec: number };
}

function platformConfig(quick: boolean): PlatformConfig {
  const search = (startRate: number, p99: number): SearchConfig => ({
    startRate,
    growth: quick ? 2 : 1.4,
    refineSteps: quick ? 0 : 2,
    // A platform step is four to six processes on a shared machine: a re-run costs more than it tells.
    retries: 0,
    slo: { percentile: 'p99', maxMs: p99 },
  });
  return {
    city: quick ? { stores: 10_000, days: 2, trees: 30 } : { stores: 10_000, days: 28 },
    embedded: {
      fixedRates: quick ? [500] : [1000, 2500, 5000],
      search: search(quick ? 1000 : 2000, 5),
      target: { rate: 5000, p99Ms: 5 },
    },
    cluster: {
      fixedRates: quick ? [100] : [500, 1000, 2000],
      search: search(quick ? 200 : 1000, 10),
      target: { rate: 2000, p95Ms: 5, p99Ms: 10 },
    },
    batch: {
      fixedRates: quick ? [20] : [100, 200, 400],
      search: search(quick ? 40 : 200, 25),
      target: { rate: 400, p99Ms: 25 },
    },
    mixed: quick
      ? { etaRate: 100, eventsPerSec: 400, eventsPerRequest: 20, durationSec: 6, maxSpike: 2 }
      : { etaRate: 2000, eventsPerSec: 2000, eventsPerRequest: 20, durationSec: 40, maxSpike: 2 },
    memory: { predictorMb: 120, embeddedMb: 300 },
    profile: { enabled: !quick, rate: 2000, durationSec: 15 },
  };
}

export function peakConfig(quick: boolean): PeakConfig {
  const base = {
    quiet: { waitMs: quick ? 0 : 5_000, cores: 0.6, noisyOthersCores: 0.5 },
    search: true,
    connections: 64,
    timeoutMs: 2000,
    ceiling: { sloP99Ms: 5 },
    targets: { singleThroughputRatio: 3, batchRowsRatio: 2 },
    platform: platformConfig(quick),
  };
  if (quick) {
    return {
      ...base,
      quick,
      warmupSec: 1,
      durationSec: 2,
      cooldownMs: 300,
      single: {
        fixedRates: [500, 1000],
        search: {
          startRate: 1000,
          growth: 2,
          refineSteps: 0,
          retries: 0,
          slo: { percentile: 'p99', maxMs: 25 },
        },
      },
      batch: {
        fixedRates: [100],
        search: {
          startRate: 200,
          growth: 2,
          refineSteps: 0,
          retries: 0,
          slo: { percentile: 'p99', maxMs: 50 },
        },
      },
    };
  }
  return {
    ...base,
    quick,
    warmupSec: 3,
    durationSec: 15,
    cooldownMs: 2000,
    single: {
      fixedRates: [500, 1000, 2000, 3000],
      search: {
        startRate: 1000,
        growth: 1.4,
        refineSteps: 3,
        retries: 1,
        slo: { percentile: 'p99', maxMs: 25 },
      },
    },
    batch: {
      fixedRates: [100, 200, 400, 600],
      search: {
        startRate: 200,
        growth: 1.4,
        refineSteps: 3,
        retries: 1,
        slo: { percentile: 'p99', maxMs: 50 },
      },
    },
  };
}

/** The sides `--compare` drives (issue 16): the commit before the change, the working tree, the seed stack peer. */
export type CompareSide = 'baseline' | 'change' | 'seed';
export const COMPARE_SIDES: CompareSide[] = ['baseline', 'change', 'seed'];

/** `npm run bench:peak -- --compare` (bench/peak/compare/): before/after/seed in one run, sides alternating. */
export interface CompareConfig {
  quick: boolean;
  /** The commit before the change (a detached worktree under bench/tmp/peak/). */
  baseline: string;
  sides: CompareSide[];
  /** Open-loop rates (req/s); at each one every side runs in turn, in `sides` order. */
  rates: number[];
  warmupSec: number;
  durationSec: number;
  connections: number;
  timeoutMs: number;
  /**
   * Each side is started for each of its steps and stopped after it, so no idle side shares the machine with a
   * step (a machine too slow for every side up at once); otherwise every side stays up for every rate.
   */
  oneSideUp: boolean;
  /** Before each step: wait until the 1-minute load average is <= `loadavg`, at most `maxWaitSec`. */
  quiet: { loadavg: number; maxWaitSec: number };
  /** Fresh cluster on a fresh data dir, driven at `rate` as soon as /readyz answers 200, no warm-up. */
  cold: { enabled: boolean; rate: number; durationSec: number };
  /** Embedded `etaserve start` of the change at `rate` for `minutes` (0: off), RSS every `sampleSec`. */
  soak: { minutes: number; rate: number; sampleSec: number };
  /** The simulated city both etaserve sides serve (each trains its own template with its own CLI). */
  city: { stores: number; days: number; trees?: number };
  /** The targets for the change. */
  targets: {
    /** At this rate: p95 and p99 lower than the seed's in the same run, and (quiet) p95/p99 bounds, no errors. */
    high: { rate: number; p95Ms: number; p99Ms: number };
    /** At this rate: p99 bound, CPU ms per request summed over the side's processes, RSS per process. */
    base: { rate: number; p99Ms: number; cpuMsPerRequest: number; predictorMb: number; gatewayMb: number };
    coldRatio: number;
    embeddedMb: number;
  };
}

export function compareConfig(quick: boolean): CompareConfig {
  return {
    quick,
    baseline: '5ec1ee4',
    sides: [...COMPARE_SIDES],
    rates: quick ? [500, 1000] : [2000, 3000],
    warmupSec: quick ? 1 : 5,
    durationSec: quick ? 2 : 15,
    connections: 64,
    timeoutMs: 2000,
    oneSideUp: false,
    quiet: { loadavg: 0.3, maxWaitSec: quick ? 0 : 120 },
    cold: { enabled: true, rate: quick ? 500 : 2000, durationSec: quick ? 3 : 30 },
    soak: { minutes: 0, rate: 2000, sampleSec: quick ? 5 : 30 },
    city: platformConfig(quick).city,
    targets: {
      high: { rate: 3000, p95Ms: 4, p99Ms: 8 },
      base: { rate: 2000, p99Ms: 5, cpuMsPerRequest: 0.3, predictorMb: 120, gatewayMb: 200 },
      coldRatio: 2,
      embeddedMb: 300,
    },
  };
}
