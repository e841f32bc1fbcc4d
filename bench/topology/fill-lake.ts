/**
 * node --import tsx bench/topology/fill-lake.ts --lake DIR --stores-out FILE [--days N] [--orders-per-day M]
 *     [--seed S] [--batch B] [--part K --parts N] [--now MS]
 *
 * Fills a lake the way a pipeline's lake writer leaves it after a year of ingest: the simulated city of
 * `npm run bench:train` (300 stores, seed 42, N days ending at today's local midnight) as the events the platform
 * sends (`historyApiEvents`: order lifecycles and rider positions, interleaved by time), flattened to lake rows and
 * written as hour-partitioned Parquet (`writeEventsToLake`), B events per write. The city's stores go to FILE (one
 * `POST /v1/stores` body a line). Its own process: the benchmark keeps none of this in memory. With `--parts N`,
 * process K of N writes every Nth batch (each simulates the whole city: the same seed gives the same history), so N
 * processes share the flattening and Parquet writing, which cost far more than the simulation. Prints one JSON line.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { flattenEvent, openDuck, writeEventsToLake, type FlatEvent } from '../../src/pipeline/index.js';
import { generateHistory, historyApiEvents } from '../../src/simulator/index.js';
import { toNewStoreJson } from '../../src/store/index.js';

const DAY = 86_400_000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      lake: { type: 'string' },
      'stores-out': { type: 'string' },
      days: { type: 'string' },
      'orders-per-day': { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      part: { type: 'string' },
      parts: { type: 'string' },
      now: { type: 'string' },
    },
  });
  if (!values.lake || !values['stores-out']) throw new Error('--lake DIR and --stores-out FILE are required');
  const days = Number(values.days ?? 365);
  const batchSize = Number(values.batch ?? 200_000);
  const part = Number(values.part ?? 0);
  const parts = Number(values.parts ?? 1);
  const started = Date.now();
  // As bench/train/prepare-log.ts: the same city, so the figures compare with bench:train's.
  const history = generateHistory({
    seed: Number(values.seed ?? 42),
    days,
    stores: 300,
    ordersPerDay: Number(values['orders-per-day'] ?? 2800),
    // Every part must simulate the same days: the caller passes one `now` to all.
    startMs: Math.floor(Number(values.now ?? started) / DAY) * DAY - days * DAY,
  });
  const simulatedSec = (Date.now() - started) / 1000;
  if (part === 0)
    writeFileSync(
      values['stores-out'],
      history.stores.map((s) => JSON.stringify(toNewStoreJson(s))).join('\n') + '\n',
    );
  const duck = await openDuck();
  let events = 0;
  let seen = 0;
  let batch: FlatEvent[] = [];
  try {
    for (const e of historyApiEvents(history)) {
      // Batches by position in the history, so the parts' batches tile it whatever each one keeps.
      if (Math.floor(seen++ / batchSize) % parts !== part) continue;
      const flat = flattenEvent(e as Parameters<typeof flattenEvent>[0]);
      if (!flat) continue;
      batch.push(flat);
      if (batch.length >= batchSize) {
        events += (await writeEventsToLake(values.lake, batch, duck)).rows;
        batch = [];
      }
    }
    events += (await writeEventsToLake(values.lake, batch, duck)).rows;
  } finally {
    duck.close();
  }
  console.log(
    JSON.stringify({
      part,
      parts,
      orders: history.orders.length,
      pings: history.riderPings.count,
      events,
      fromMs: history.startMs,
      toMs: history.endMs,
      simulatedSec,
      wallSec: (Date.now() - started) / 1000,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
