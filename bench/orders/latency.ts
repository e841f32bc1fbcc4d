/**
 * npm run bench:orders (after the accuracy figures), or alone:
 *   node --import tsx bench/orders/latency.ts [--rate 2000] [--duration 20] [--warmup 5] [--quick] [--no-write]
 *
 * How long after an event an order's live ETA is new: `etaserve start` (embedded, a trained city with order legs)
 * takes order lives through `POST /v1/events` from the project's open-loop generator at `rate` events/s (batches of
 * 10), and the orders module's `etaserve_order_update_delay_seconds` histogram (from each event's arrival in the
 * log to its order's recomputed ETA, the moment its stream is written) is read before and after the measured
 * window. Writes bench/results/orders-latency-<date>.{json,md}. Target: p99 ≤ 50 ms at 2,000 events/s.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runMeasured } from '../lib/measure.js';
import { machineInfo, REPO_ROOT, today, writeResults } from '../lib/results.js';
import {
  AUTH,
  fetchCatalog,
  prepareTemplate,
  runDataDir,
  startEmbedded,
  type CityOptions,
} from '../peak/shapes.js';

const { values } = parseArgs({
  // Also run by run.ts (npm run bench:orders), whose own flags pass through here.
  strict: false,
  options: {
    rate: { type: 'string', default: '2000' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    quick: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});

const QUICK = values.quick === true;
const EVENTS_PER_SECOND = Number(values.rate ?? 2000);
const BATCH = 10;
const DURATION = QUICK ? 4 : Number(values.duration ?? 20);
const WARMUP = QUICK ? 1 : Number(values.warmup ?? 5);
const CITY: CityOptions = QUICK ? { stores: 200, days: 10 } : { stores: 2000, days: 21 };
const ROOT = path.join(REPO_ROOT, 'bench', 'tmp', 'orders');
const SOURCE = path.join(REPO_ROOT, 'bench', 'orders', 'events-source.ts');
const METRIC = 'etaserve_order_update_delay_seconds';

/** Cumulative bucket counts of the histogram (le -> count), summed over label sets. */
async function buckets(url: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${METRIC}_bucket`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!le) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + value);
  }
  return out;
}

/** The q-quantile in ms from bucket deltas, interpolated linearly within its bucket. */
function quantileMs(delta: Array<[number, number]>, q: number): number {
  const total = delta.at(-1)![1];
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [bound, cumulative] of delta) {
    if (cumulative >= rank) {
      if (!Number.isFinite(bound)) return Number.POSITIVE_INFINITY;
      const inBucket = cumulative - below;
      return (lower + ((rank - below) / Math.max(inBucket, 1)) * (bound - lower)) * 1000;
    }
    lower = bound;
    below = cumulative;
  }
  return Number.NaN;
}

async function main(): Promise<void> {
  mkdirSync(ROOT, { recursive: true });
  console.log(
    `== template: ${CITY.stores} stores, ${CITY.days} days (trained once with its order legs, then cached)`,
  );
  const template = await prepareTemplate(ROOT, CITY);
  const dataDir = runDataDir(template, ROOT, 'latency');
  const shape = await startEmbedded(dataDir, CITY);
  try {
    const catalogFile = path.join(dataDir, 'catalog.json');
    const stores = await fetchCatalog(shape.gateway, catalogFile);
    console.log(`== embedded up at ${shape.gateway}: ${stores} stores`);
    const rate = EVENTS_PER_SECOND / BATCH;
    const options = {
      url: shape.gateway,
      path: '/v1/events',
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      rate,
      durationSec: DURATION,
      warmupSec: WARMUP,
      connections: 32,
      itemsPerRequest: BATCH,
      source: { kind: 'module' as const, module: SOURCE, options: { catalogFile, batch: BATCH } },
      label: `order events ${EVENTS_PER_SECOND}/s`,
    };
    let atStart: Promise<Map<number, number>> | undefined;
    const measured = await runMeasured(options, shape.pids, {
      quietWaitMs: QUICK ? 0 : 60_000,
      quietCores: 0.5,
      onMeasureStart: () => {
        atStart = buckets(shape.gateway);
      },
    });
    const after = await buckets(shape.gateway);
    const before = (await atStart) ?? new Map<number, number>();
    const delta = [...after.entries()]
      .sort(([a], [b]) => a - b)
      .map(([bound, count]): [number, number] => [bound, count - (before.get(bound) ?? 0)]);
    const updates = delta.at(-1)?.[1] ?? 0;
    const within50 = delta.find(([bound]) => bound >= 0.05)?.[1] ?? 0;
    const p50 = quantileMs(delta, 0.5);
    const p99 = quantileMs(delta, 0.99);
    const share50 = updates > 0 ? within50 / updates : Number.NaN;
    const achieved = measured.achievedRate * BATCH;
    const pass = share50 >= 0.99 && measured.errors === 0 && measured.non2xx === 0;
    const result = {
      date: today(),
      machine: machineInfo(),
      quick: QUICK,
      city: CITY,
      eventsPerSecond: EVENTS_PER_SECOND,
      achievedEventsPerSecond: achieved,
      batch: BATCH,
      durationSec: DURATION,
      updates,
      updateDelayMs: { p50, p99 },
      shareWithin50ms: share50,
      ingest: measured.latency,
      errors: measured.errors,
      non2xx: measured.non2xx,
      usage: measured.usage,
      load: measured.machine,
      buckets: delta,
      target: { p99Ms: 50, pass },
    };
    const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : String(n));
    const md = [
      `# Live ETA update latency: ${result.date}${QUICK ? ' (quick)' : ''}`,
      '',
      `\`etaserve start\` (embedded, ${CITY.stores} stores, order legs trained with the model) took order lives through ` +
        `\`POST /v1/events\` at ${EVENTS_PER_SECOND.toLocaleString('en')} events/s offered (${fmt(achieved)} achieved; ` +
        `batches of ${BATCH}, open loop, ${DURATION} s measured after ${WARMUP} s of warm-up), on the same 2 cores as ` +
        'the generator. The delay is `etaserve_order_update_delay_seconds`: from each event\u2019s arrival in the log ' +
        'to its order\u2019s recomputed live ETA (when its stream message is written), read before and after the window.',
      '',
      '| events applied | p50 | p99 | within 50 ms | POST /v1/events p99 | errors | target p99 \u2264 50 ms |',
      '|---|---|---|---|---|---|---|',
      `| ${updates.toLocaleString('en')} | ${fmt(p50)} ms | ${fmt(p99)} ms | ${(share50 * 100).toFixed(2)} % | ` +
        `${fmt(measured.latency.p99)} ms | ${measured.errors + measured.non2xx} | **${pass ? 'PASS' : 'MISS'}** |`,
      '',
      'Percentiles are interpolated inside the histogram\u2019s buckets (1, 2.5, 5, 10, 25, 50, 100 ms, ...); ' +
        '"within 50 ms" is exact (a bucket bound).',
      '',
    ].join('\n');
    console.log(md);
    if (!values['no-write']) {
      const written = writeResults(QUICK ? 'orders-latency-quick' : 'orders-latency', result, md);
      console.log(`wrote ${written.json} and ${written.md}`);
    }
  } finally {
    await shape.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
