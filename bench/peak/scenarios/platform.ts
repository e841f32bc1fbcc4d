/**
 * Scenarios 2-5 need the platform (gateway, predictor, geo, store, events). Each is declared here with what it
 * will start and drive; `run` stays undefined until the platform lands, and the harness reports the scenario as
 * "pending: platform not ready" instead of a number. To wire one: give it a `run` that starts its shape with
 * `startService` (bench/lib/proc.ts), drives it with `runMeasured` and the mix below, and returns its figures.
 */
import { fileURLToPath } from 'node:url';
import type { SourceSpec } from '../../loadgen/index.js';
import type { PeakConfig } from '../config.js';

const MIX = fileURLToPath(new URL('../mix.ts', import.meta.url));

export const mixSource = (options: Record<string, unknown>): SourceSpec => ({
  kind: 'module',
  module: MIX,
  options,
});

export interface PlatformScenario {
  id: string;
  number: number;
  title: string;
  /** What it starts. */
  starts: string;
  /** What it drives, with which source. */
  drives: { path: string; source: SourceSpec; note: string }[];
  /** What it reports once wired. */
  reports: string;
  run?: (cfg: PeakConfig, log: (line: string) => void) => Promise<Record<string, unknown>>;
}

export const PLATFORM_NOT_READY = 'pending: platform not ready';

export const PLATFORM_SCENARIOS: PlatformScenario[] = [
  {
    id: 'eta-embedded',
    number: 2,
    title: 'POST /v1/eta against embedded `etaserve start`',
    starts: 'one process with every module (`node bin/etaserve.js start`), SQLite, L1 cache only',
    drives: [
      {
        path: '/v1/eta',
        source: mixSource({ kind: 'single' }),
        note: 'Zipf(1.1) store popularity over 10,000 stores, destinations around each store, lunch/dinner peaks',
      },
    ],
    reports: 'max req/s at p99 target, p99 at fixed rates, cache hit rate, CPU ms/req and peak RSS',
  },
  {
    id: 'cluster',
    number: 3,
    title: 'Cluster: `etaserve up --predictors 2`, without and with Redis',
    starts: 'gateway + 2 predictors + geo + store as separate processes; then again with a Redis L2',
    drives: [{ path: '/v1/eta', source: mixSource({ kind: 'single' }), note: 'same mix as scenario 2' }],
    reports: 'max req/s and p99 per shape (no Redis vs Redis), CPU ms/req per process, peak RSS per process',
  },
  {
    id: 'eta-batch',
    number: 4,
    title: 'POST /v1/eta/batch of 50 stores (list page)',
    starts: 'embedded `etaserve start`',
    drives: [
      {
        path: '/v1/eta/batch',
        source: mixSource({ kind: 'batch', batchSize: 50 }),
        note: '50 distinct popular stores of one market around one destination',
      },
    ],
    reports: 'max batches/s and ETAs/s at p99 target, p99 at fixed rates',
  },
  {
    id: 'mixed',
    number: 5,
    title: 'Mixed: ETAs + batches + events, with a model promotion mid-run',
    starts:
      'cluster shape with events ingest and the pipeline; a promotion (alias move) at the middle of the run',
    drives: [
      {
        path: '/v1/eta, /v1/eta/batch, /v1/events',
        source: mixSource({ kind: 'mixed' }),
        note: '80% /v1/eta, 15% batches of 50, 5% event batches of 20',
      },
    ],
    reports: 'p99 and max per second around the promotion (timeline), errors (must be 0), events accepted/s',
  },
];
