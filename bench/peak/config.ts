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
}

export function peakConfig(quick: boolean): PeakConfig {
  const base = {
    quiet: { waitMs: quick ? 0 : 5_000, cores: 0.6, noisyOthersCores: 0.5 },
    search: true,
    connections: 64,
    timeoutMs: 2000,
    ceiling: { sloP99Ms: 5 },
    targets: { singleThroughputRatio: 3, batchRowsRatio: 2 },
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
