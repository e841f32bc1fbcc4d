/**
 * node --import tsx bench/train/prepare-log.ts --data DIR --days N --orders-per-day M [--seed S]
 *
 * Sets a data directory up the way a platform that has been ingesting for a while has it: the simulated city's
 * stores in `stores.jsonl` (for `etaserve stores import`) and its whole history in the event log, as the events the
 * delivery platform sends (`order.*` with every lifecycle step, `rider.location` every few minutes), appended in
 * time order. Run in its own process, so the benchmark's training run starts with none of this in memory.
 * Prints one JSON line: what it wrote and the window it covers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Value } from 'typebox/value';
import {
  eventsConfigSchema,
  openEventLog,
  type EtaEvent,
  type EventsConfig,
} from '../../src/events/index.js';
import { generateHistory, historyApiEvents, type SimulatedStore } from '../../src/simulator/index.js';

const DAY = 86_400_000;
const BATCH = 5000;

/** A store as `etaserve stores import` takes it (the API's snake_case). */
const storeJson = (s: SimulatedStore): Record<string, unknown> => ({
  store_id: s.storeId,
  name: s.name,
  location: s.location,
  category: s.category,
  timezone: s.timezone,
  opening_hours: s.openingHours,
  delivery_radius_km: s.deliveryRadiusKm,
  prep_profile: { mean_seconds: s.prepProfile.meanSeconds, p90_seconds: s.prepProfile.p90Seconds },
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      days: { type: 'string' },
      'orders-per-day': { type: 'string' },
      seed: { type: 'string' },
    },
  });
  if (!values.data) throw new Error('--data DIR is required');
  const days = Number(values.days ?? 365);
  const now = Date.now();
  const history = generateHistory({
    seed: Number(values.seed ?? 42),
    days,
    stores: 300,
    ordersPerDay: Number(values['orders-per-day'] ?? 2800),
    startMs: Math.floor(now / DAY) * DAY - days * DAY,
  });
  mkdirSync(values.data, { recursive: true });
  writeFileSync(
    path.join(values.data, 'stores.jsonl'),
    history.stores.map((s) => JSON.stringify(storeJson(s))).join('\n') + '\n',
  );
  const config = Value.Default(eventsConfigSchema, {
    backend: 'file',
    // Every id of a year is in the log once: the index need not remember more than a day of them here.
    dedupeMaxIds: 1_000_000,
  }) as EventsConfig;
  const log = openEventLog(config, values.data, { role: 'writer' });
  await log.open();
  let batch: EtaEvent[] = [];
  let events = 0;
  const add = async (e: EtaEvent): Promise<void> => {
    batch.push(e);
    if (batch.length >= BATCH) await flush();
  };
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    events += batch.length;
    await log.append(batch);
    batch = [];
  };

  for (const e of historyApiEvents(history)) await add(e as EtaEvent);
  await flush();
  const stats = await log.stats();
  await log.close();
  console.log(
    JSON.stringify({
      orders: history.orders.length,
      pings: history.riderPings.count,
      events,
      logBytes: stats.bytes,
      fromMs: history.startMs,
      toMs: history.endMs,
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
