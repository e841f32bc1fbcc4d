import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeZone } from '../src/features/index.js';
import { trainFromHistory } from '../src/pipeline/index.js';
import { openModelRegistry } from '../src/registry/index.js';
import { generateHistory } from '../src/simulator/index.js';
import { requireBinary } from './support/binaries.js';
import { openBrowserPage } from './support/browser.js';
import {
  DEMO_KEY,
  freePort,
  freshDataDir,
  postJson,
  run,
  waitFor,
  waitReady,
  type Running,
} from './support/processes.js';
import { ensureTemplate } from './support/template.js';
import { parisEvening } from './support/times.js';

const CHROMIUM = requireBinary('chromium', 'the console browser tests');
const ENV = {
  ETASERVE_DEMO_API_KEY: DEMO_KEY,
  ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
  ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
  ETASERVE_PREDICTOR_ALIAS_POLL_MS: '200',
  ETASERVE_EVENTS_POLL_MS: '100',
  // Each request reaches the predictor: the test reads the range it serves now.
  ETASERVE_GATEWAY_RESPONSE_CACHE: 'false',
};

interface Quote {
  eta_seconds: number;
  range_seconds: [number, number];
  promised_at: string;
  model_version: string;
}

let data: { dir: string; cleanup: () => void };
let running: Running | undefined;
let url = '';
let storeA = '';
let storeB = '';
/** 19:05 in Paris: the dinner daypart. */
const orderedAt = parisEvening();
const destination = { lat: 48.8611, lng: 2.3377 };

async function start(): Promise<void> {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  running = run(['start'], { ...ENV, ETASERVE_DATA_DIR: data.dir, ETASERVE_GATEWAY_PORT: String(port) });
  await waitReady(url, running);
}

async function admin(method: 'GET' | 'POST', route: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${route}`, { method, headers: { authorization: `Bearer ${DEMO_KEY}` } });
  return { status: res.status, body: await res.json() };
}

async function quote(store: string): Promise<Quote> {
  const res = await postJson(`${url}/v1/eta`, {
    store_id: store,
    destination,
    items: 2,
    subtotal: 24,
    ordered_at: orderedAt,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as Quote;
}

/** A segmented champion, trained here as the pipeline trains (zone and daypart), registered and promoted. */
async function promoteSegmented(): Promise<string> {
  const history = generateHistory({ seed: 5, days: 6, stores: 30, ordersPerDay: 300 });
  const trained = await trainFromHistory(history, { params: { nTrees: 40 } });
  const registry = openModelRegistry({ database: 'sqlite', sqliteFile: path.join(data.dir, 'etaserve.db') });
  const record = await registry.register(trained.artifact, { source: 'test:online-ranges' });
  await registry.close();
  // A model of a small simulated history: forced past the policy, which would rightly refuse it.
  const promoted = await fetch(`${url}/v1/admin/models/${record.version}/promote`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ force: true, reason: 'test: a champion calibrated per segment' }),
  });
  expect(promoted.status, await promoted.clone().text()).toBe(200);
  await waitFor(
    async () => (await quote(storeA)).model_version === record.version,
    20_000,
    `the predictor to serve ${record.version}`,
  );
  return record.version;
}

/**
 * `n` orders of store A, each quoted afresh as a client would, delivered `actual` seconds after creation.
 * Returns how many were delivered inside the range they were quoted.
 */
async function sendOrders(n: number, from: number, actual: number): Promise<number> {
  const createdMs = Date.parse(orderedAt);
  let inside = 0;
  for (let i = from; i < from + n; i++) {
    const q = await quote(storeA);
    if (actual >= q.range_seconds[0] && actual <= q.range_seconds[1]) inside++;
    const order = { order_id: `online-${i}`, store_id: storeA };
    const res = await postJson(`${url}/v1/events`, [
      {
        ...order,
        event_id: `online-created-${i}`,
        type: 'order.created',
        occurred_at: new Date(createdMs + i * 1000).toISOString(),
        destination,
        items: 2,
        subtotal: 24,
        quoted_eta_seconds: q.eta_seconds,
        quoted_range_seconds: q.range_seconds,
        promised_at: q.promised_at,
        model_version: q.model_version,
      },
      {
        ...order,
        event_id: `online-delivered-${i}`,
        type: 'order.delivered',
        occurred_at: new Date(createdMs + i * 1000 + actual * 1000).toISOString(),
      },
    ]);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  }
  return inside;
}

const width = (q: Quote): number => q.range_seconds[1] - q.range_seconds[0];

describe('per-segment ranges served by the predictor, fed by the accuracy join', () => {
  let version = '';
  let startA: Quote;
  let startB: Quote;
  let widenedA: Quote;
  let actual = 0;

  beforeAll(async () => {
    await ensureTemplate();
    data = freshDataDir();
    await start();
    const { body } = await admin('GET', '/v1/stores?limit=100');
    const stores = body.stores as Array<{ store_id: string; location: { lat: number; lng: number } }>;
    storeA = stores[0]!.store_id;
    const zoneA = storeZone(stores[0]!.location);
    storeB = stores.find((s) => storeZone(s.location) !== zoneA)!.store_id;
    version = await promoteSegmented();
  }, 180_000);

  afterAll(async () => {
    await running?.stop();
    data?.cleanup();
  });

  it("widens a segment's served range after its own misses, and no other segment's", async () => {
    startA = await quote(storeA);
    startB = await quote(storeB);
    // Three half-widths of the first range above its median: misses until the range has about tripled.
    actual = startA.eta_seconds + 3 * (startA.range_seconds[1] - startA.eta_seconds);
    const inside = await sendOrders(40, 0, actual);
    await waitFor(
      async () => width((widenedA = await quote(storeA))) > 1.5 * width(startA),
      30_000,
      "store A's range to widen",
    );
    // Wide enough for the late outcomes, and no runaway past them.
    expect(width(widenedA)).toBeLessThan(4 * width(startA));
    expect(await quote(storeB)).toMatchObject({ range_seconds: startB.range_seconds });
    let rows: Array<{ model_version: string; daypart: string; outcomes: number }> = [];
    await waitFor(
      async () => {
        rows = (await admin('GET', '/v1/admin/accuracy')).body.by_segment;
        return rows.some((r) => r.outcomes === 40);
      },
      20_000,
      '40 outcomes in the segment',
    );
    // Each outcome judged against the range its order was quoted.
    expect(rows.filter((r) => r.outcomes > 0)).toEqual([
      expect.objectContaining({
        model_version: version,
        daypart: 'dinner',
        outcomes: 40,
        coverage_ratio: Math.round((inside / 40) * 1e4) / 1e4,
      }),
    ]);
  }, 90_000);

  it('shows coverage per segment in the console', async (ctx) => {
    if (!CHROMIUM) return ctx.skip();
    const browser = await openBrowserPage(CHROMIUM, 'Europe/Paris');
    try {
      await browser.page.goto(`${url}/`);
      await browser.page.getByLabel('API key').fill(DEMO_KEY);
      await browser.page.getByRole('button', { name: 'Open the console' }).click();
      await browser.page.getByRole('heading', { name: 'Live' }).waitFor();
      await browser.page.goto(`${url}/accuracy`);
      const table = browser.page.getByTestId('accuracy-segments');
      await table.waitFor({ timeout: 20_000 });
      const text = (await table.textContent()) ?? '';
      expect(text).toContain('dinner');
      expect(text).toContain(version);
      // Its outcomes, and the share of them inside the range each was quoted.
      expect(text).toMatch(/dinner\s*40\s*\d+\.\d%/);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('serves the same ranges after a restart: the state comes back from the registry', async () => {
    await running!.stop();
    await start();
    await waitFor(
      async () => (await quote(storeA)).range_seconds.join() === widenedA.range_seconds.join(),
      20_000,
      "store A's widened range after the restart",
    );
    expect(await quote(storeB)).toMatchObject({ range_seconds: startB.range_seconds });
    // The feeder resumed too: more outcomes add to the saved ones.
    await sendOrders(5, 40, actual);
    await waitFor(
      async () =>
        ((await admin('GET', '/v1/admin/accuracy')).body.by_segment as Array<{ outcomes: number }>).some(
          (r) => r.outcomes === 45,
        ),
      20_000,
      '45 outcomes in the segment',
    );
  }, 120_000);

  it("starts a promoted version from its own artifact's factors", async () => {
    const next = await promoteSegmented();
    expect(next).not.toBe(version);
    // The same trees and calibration as before the misses: the range store A had at the start.
    expect((await quote(storeA)).range_seconds).toEqual(startA.range_seconds);
  }, 60_000);
});
