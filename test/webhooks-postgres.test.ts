import { createServer, type Server } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlWebhookStore, WebhookDeliverer, type DelivererSettings } from '../src/orders/index.js';
import { createLogger, postgresRunner } from '../src/platform/index.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';
import { waitFor } from './support/processes.js';

/**
 * The webhook outbox on a real PostgreSQL, shared by two stores on their own pools as two processes would: enqueueing
 * the same events from both keeps one delivery each, two deliverers sending at once never send one twice, and a
 * claim whose sender died is taken again once its lease runs out.
 */

let postgres: TestPostgres | undefined;
let receiver: Server;
let receiverUrl: string;
const seen: string[] = [];
const pools: pg.Pool[] = [];
let databases = 0;

const SETTINGS: DelivererSettings = {
  pollMs: 10,
  maxAttempts: 3,
  backoffBaseMs: 20,
  backoffMaxMs: 50,
  timeoutMs: 2000,
  concurrency: 8,
  allowPrivateTargets: true,
};

beforeAll(async () => {
  postgres = await startPostgres();
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(String(req.headers['webhook-id']));
      // Slow enough that two deliverers overlap.
      setTimeout(() => res.writeHead(req.url === '/fail' ? 500 : 200).end(), 15);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
}, 120_000);

afterAll(async () => {
  for (const p of pools) await p.end();
  await new Promise((r) => receiver?.close(r));
  await postgres?.stop();
});

/** Two stores over one fresh database, each on its own pool: two processes of a deployment. */
async function twoStores(): Promise<[SqlWebhookStore, SqlWebhookStore]> {
  const name = `webhooks_${++databases}`;
  const admin = new pg.Client({ connectionString: postgres!.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = postgres!.url.replace(/\/[^/]+$/, `/${name}`);
  const open = (): SqlWebhookStore => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pools.push(pool);
    return new SqlWebhookStore(postgresRunner(pool));
  };
  return [open(), open()];
}

const logger = createLogger({ level: 'silent' });

describe('the webhook outbox on PostgreSQL', () => {
  it('keeps one delivery per event, and two deliverers send each exactly once', async (t) => {
    if (!postgres) return t.skip();
    const [a, b] = await twoStores();
    const endpoint = await a.register({
      url: `${receiverUrl}/ok`,
      eventTypes: ['order.ready'],
      description: '',
    });
    const events = Array.from({ length: 200 }, (_, i) => ({
      endpointId: endpoint.id,
      eventId: `ev-${i}`,
      eventType: 'order.ready',
      payload: JSON.stringify({ type: 'order.ready', data: { order_id: `o-${i}` } }),
    }));
    // The log delivers at least once: both processes enqueue everything, one of them twice.
    const inserted = await Promise.all([
      a.enqueue(events),
      b.enqueue(events),
      b.enqueue(events.slice(0, 50)),
    ]);
    expect(inserted.reduce((x, y) => x + y, 0)).toBe(200);
    expect(await a.pending()).toBe(200);

    seen.length = 0;
    const deliverers = [a, b].map((store) => new WebhookDeliverer({ store, settings: SETTINGS, logger }));
    for (const d of deliverers) d.start();
    await waitFor(async () => (await b.pending()) === 0, 30_000, 'every delivery sent');
    await Promise.all(deliverers.map((d) => d.stop()));

    expect(seen).toHaveLength(200);
    expect(new Set(seen).size).toBe(200);
    const delivered = await b.deliveries({ status: 'delivered', limit: 500 });
    expect(delivered).toHaveLength(200);
    expect(delivered.every((d) => d.attempts === 1 && d.lastStatus === 200)).toBe(true);
  });

  it("takes a dead sender's claim again after its lease, and dead-letters after the last attempt", async (t) => {
    if (!postgres) return t.skip();
    const [a, b] = await twoStores();
    const endpoint = await a.register({
      url: `${receiverUrl}/fail`,
      eventTypes: ['order.ready'],
      description: '',
    });
    await a.enqueue([{ endpointId: endpoint.id, eventId: 'ev-1', eventType: 'order.ready', payload: '{}' }]);

    // A claims and dies before it records anything.
    const [held] = await a.claim(10, 500);
    expect(held?.attempts).toBe(1);
    expect(await b.claim(10, 500)).toEqual([]);
    await new Promise((r) => setTimeout(r, 600));
    const [taken] = await b.claim(10, 500);
    expect(taken).toMatchObject({ id: `${endpoint.id}:ev-1`, attempts: 2 });
    await b.failed(taken!.id, { status: null, error: 'the sender died', retryAtMs: Date.now() });

    seen.length = 0;
    const deliverer = new WebhookDeliverer({ store: b, settings: SETTINGS, logger });
    deliverer.start();
    await waitFor(
      async () => (await a.deliveries({ status: 'dead', limit: 10 })).length === 1,
      10_000,
      'dead-lettered',
    );
    await deliverer.stop();
    // Three attempts in all, the one that died counted: a poison delivery cannot loop forever.
    expect(seen).toEqual([`${endpoint.id}:ev-1`]);
    const [dead] = await a.deliveries({ status: 'dead', limit: 10 });
    expect(dead).toMatchObject({ attempts: 3, lastStatus: 500, lastError: 'answered 500' });

    expect(await a.redrive(dead!.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await a.redrive(dead!.id)).toBeUndefined();
    // Deleting the endpoint drops what was still pending for it.
    expect(await b.remove(endpoint.id)).toBe(true);
    expect(await a.pending()).toBe(0);
    expect(await a.list()).toEqual([]);
  });
});
