import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEventLog, type EtaEvent } from '../src/events/index.js';
import { lakeDirOf, lakeEventsRelation, openDuck } from '../src/pipeline/index.js';
import { INTERNAL_TOKEN_HEADER } from '../src/platform/index.js';
import { BIN, freePort, freshDataDir, run, waitFor, waitReady, type Running } from './support/processes.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { ensureTemplate } from './support/template.js';
import { minutesAgoIso } from './support/times.js';

/**
 * The production shape's forget, with every process on its own data directory (no shared disk): events in Redis
 * Streams, the pipeline's lake on the pipeline's directory, store and geo projections in their own processes. A
 * forget through the CLI (yet another directory) reaches all of them through the forget journal. Runs dist/.
 */
const TOKEN = 'forget-across-processes-token-0123456789';
const STREAM = 'forget-e2e';
const STORE = 's-0001';

const exec = promisify(execFile);

let redis: RedisServer | undefined;
const running: Running[] = [];
const cleanups: Array<() => void> = [];
let env: Record<string, string> = {};
let pipelineDir = '';
let storeUrl = '';
let geoUrl = '';
let gatewayLog: RedisEventLog | undefined;

async function startTarget(target: string, portKey: string): Promise<{ url: string; dir: string }> {
  const { dir, cleanup } = freshDataDir();
  cleanups.push(cleanup);
  const port = await freePort();
  const proc = run(['start', '--target', target], {
    ...env,
    ETASERVE_DATA_DIR: dir,
    [portKey]: String(port),
  });
  running.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, proc);
  return { url, dir };
}

beforeAll(async () => {
  await ensureTemplate();
  redis = await startRedis();
  if (!redis) return;
  env = {
    ETASERVE_EVENTS_BACKEND: 'redis',
    ETASERVE_EVENTS_REDIS_URL: redis.url,
    ETASERVE_EVENTS_REDIS_STREAM: STREAM,
    ETASERVE_EVENTS_POLL_MS: '50',
    ETASERVE_INTERNAL_TOKEN: TOKEN,
    ETASERVE_PIPELINE_SCHEDULE: '',
    ETASERVE_PIPELINE_LAKE_WRITE_INTERVAL_MS: '200',
  };
  const [pipeline, store, geo] = await Promise.all([
    startTarget('pipeline', 'ETASERVE_PIPELINE_PORT'),
    startTarget('store', 'ETASERVE_STORE_PORT'),
    startTarget('geo', 'ETASERVE_GEO_PORT'),
  ]);
  pipelineDir = pipeline.dir;
  storeUrl = store.url;
  geoUrl = geo.url;
  // This test is the gateway: it appends to the stream as POST /v1/events would.
  gatewayLog = new RedisEventLog({
    url: redis.url,
    stream: STREAM,
    dedupeWindowMs: 3_600_000,
    dedupeMaxIds: 100_000,
    retentionMs: 0,
    maxDiskBytes: 0,
  });
  await gatewayLog.open();
}, 240_000);

afterAll(async () => {
  await gatewayLog?.close();
  await Promise.all(running.map((r) => r.stop()));
  cleanups.forEach((c) => c());
  await redis?.stop();
});

async function lakeCount(where: string): Promise<number> {
  const lake = lakeDirOf(pipelineDir);
  if (!existsSync(path.join(lake, 'events'))) return 0;
  const duck = await openDuck();
  try {
    const [row] = await duck.all<{ n: number }>(
      `SELECT COUNT(*) AS n FROM ${lakeEventsRelation(lake)} WHERE ${where}`,
    );
    return Number(row?.n ?? 0);
  } finally {
    duck.close();
  }
}

async function ordersInKitchen(): Promise<number> {
  const res = await fetch(`${storeUrl}/internal/store/features`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: TOKEN },
    body: JSON.stringify({ store_ids: [STORE], at_ms: Date.now() }),
  });
  const body = (await res.json()) as { stores: Array<{ orders_in_kitchen: number }> };
  return body.stores[0]!.orders_in_kitchen;
}

async function ridersTracked(): Promise<number> {
  const text = await (await fetch(`${geoUrl}/metrics`)).text();
  return Number(/^etaserve_geo_riders_tracked(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? NaN);
}

async function cli(...args: string[]): Promise<string> {
  const { dir, cleanup } = freshDataDir();
  try {
    const { stdout } = await exec(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env, ETASERVE_DATA_DIR: dir, ETASERVE_LOG_LEVEL: 'warn' },
      timeout: 60_000,
    });
    return stdout;
  } finally {
    cleanup();
  }
}

const destination = { lat: 48.8601, lng: 2.3472 };

function history(): EtaEvent[] {
  const created = (order: string, customer: string): EtaEvent => ({
    event_id: `created-${order}`,
    type: 'order.created',
    occurred_at: minutesAgoIso(8),
    order_id: order,
    store_id: STORE,
    customer_id: customer,
    destination,
    items: 2,
    subtotal: 21.5,
    quoted_eta_seconds: 1800,
    quoted_range_seconds: [1500, 2300],
    promised_at: minutesAgoIso(-22),
    model_version: 'v1',
  });
  const accepted = (order: string, rider: string): EtaEvent => ({
    event_id: `accepted-${order}`,
    type: 'order.accepted',
    occurred_at: minutesAgoIso(5),
    order_id: order,
    store_id: STORE,
    rider_id: rider,
  });
  const ping = (rider: string): EtaEvent => ({
    event_id: `ping-${rider}`,
    type: 'rider.location',
    occurred_at: minutesAgoIso(1),
    rider_id: rider,
    lat: 48.8566,
    lng: 2.3522,
    available: true,
  });
  return [
    created('o-forget', 'c-forget'),
    accepted('o-forget', 'r-forget'),
    created('o-keep', 'c-keep'),
    accepted('o-keep', 'r-keep'),
    ping('r-forget'),
    ping('r-keep'),
  ];
}

describe('forgetting across processes (Redis Streams, a data directory per process)', () => {
  it('a forget through the CLI removes the person from the pipeline’s lake and from store and geo projections', async (t) => {
    if (!redis || !gatewayLog) return t.skip();
    const kitchenBefore = await ordersInKitchen();
    await gatewayLog.append(history());

    // Everyone has them: the lake (compacted by the pipeline process), the kitchen (store), rider supply (geo).
    await waitFor(
      async () => (await lakeCount("order_id = 'o-forget'")) === 2,
      30_000,
      'the order in the lake',
    );
    await waitFor(
      async () => (await lakeCount("rider_id = 'r-forget'")) === 2,
      30_000,
      'the rider in the lake',
    );
    await waitFor(
      async () => (await ordersInKitchen()) === kitchenBefore + 2,
      30_000,
      'two orders in the kitchen',
    );
    await waitFor(async () => (await ridersTracked()) === 2, 30_000, 'two riders tracked');

    // The CLI, with a data directory of its own, forgets a customer (and so their order), then a rider.
    const customer = JSON.parse(await cli('events', 'forget', '--customer', 'c-forget', '--json')) as {
      orderIds: string[];
      redacted: number;
    };
    expect(customer.orderIds).toEqual(['o-forget']);
    expect(customer.redacted).toBe(2);
    const rider = JSON.parse(await cli('events', 'forget', '--rider', 'r-forget', '--json')) as {
      riderIds: string[];
    };
    expect(rider.riderIds).toEqual(['r-forget']);

    await waitFor(
      async () => (await lakeCount("order_id = 'o-forget'")) === 0,
      30_000,
      'the order out of the lake',
    );
    await waitFor(
      async () => (await lakeCount("rider_id = 'r-forget'")) === 0,
      30_000,
      'the rider out of the lake',
    );
    await waitFor(
      async () => (await ordersInKitchen()) === kitchenBefore + 1,
      30_000,
      'the order out of the kitchen',
    );
    await waitFor(async () => (await ridersTracked()) === 1, 30_000, 'the rider out of rider supply');
    // Nobody else's data went with them.
    expect(await lakeCount("order_id = 'o-keep'")).toBe(2);
    expect(await lakeCount("rider_id = 'r-keep'")).toBe(2);

    // The lake's position is visible to every process: the consumer group `lake` of the stream.
    const stats = JSON.parse(await cli('events', 'stats', '--json')) as { lake: string | null; next: string };
    expect(stats.lake).toBe(stats.next);
  });
});
