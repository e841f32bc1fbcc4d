/**
 * Scenarios 2-5 (issue 6): what each starts, drives and reports. They run in `platform-run.ts` (shapes in
 * `../shapes.ts`, load steps in `platform-common.ts`, scenario 5 in `mixed.ts`), judged in `../platform-targets.ts`.
 */
import { fileURLToPath } from 'node:url';
import type { SourceSpec } from '../../loadgen/index.js';

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
  /** What it reports. */
  reports: string;
}

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
        note: 'Zipf(1.1) popularity over the 10,000 catalog stores, destinations in delivery range, times in opening hours',
      },
    ],
    reports: 'p50/p95/p99 at fixed rates, max req/s at p99 <= 5 ms, CPU ms/req and peak RSS of the process',
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
    starts: 'embedded `etaserve start`, then the cluster (no Redis)',
    drives: [
      {
        path: '/v1/eta/batch',
        source: mixSource({ kind: 'batch', batchSize: 50 }),
        note: '50 distinct stores drawn by popularity that deliver to one destination',
      },
    ],
    reports: 'max batches/s and ETAs/s at p99 target, p99 at fixed rates',
  },
  {
    id: 'mixed',
    number: 5,
    title: 'Mixed: scenario 3 plus events, with a model promotion mid-run',
    starts:
      'the cluster (no Redis) with a challenger v2 trained on its data dir; promote v2 (admin API) mid-run',
    drives: [
      { path: '/v1/eta', source: mixSource({ kind: 'single' }), note: "scenario 3's rate" },
      {
        path: '/v1/events',
        source: mixSource({ kind: 'events', eventsPerRequest: 20 }),
        note: 'order.created, 20 per request, fresh event_ids (second generator)',
      },
    ],
    reports:
      'p99 per second before/during/after the swap, errors, events acknowledged vs accepted by the ingest',
  },
];
