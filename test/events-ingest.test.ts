import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventIngest, EventValidator, FileEventLog, type LogRecord } from '../src/events/index.js';
import { eventRoutes } from '../src/gateway/event-routes.js';
import {
  createHttpServer,
  createLogger,
  createMetrics,
  EtaError,
  type HttpServer,
} from '../src/platform/index.js';

const KEY = { authorization: 'Bearer events' };
const authorize = async (req: { headers: Record<string, unknown> }): Promise<void> => {
  if (req.headers.authorization !== KEY.authorization)
    throw new EtaError('unauthorized', 'an events key is required');
};

const created = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  event_id: id,
  type: 'order.created',
  occurred_at: '2026-01-05T12:00:00+01:00',
  order_id: `o-${id}`,
  store_id: 'store-1',
  destination: { lat: 52.52, lng: 13.4 },
  items: 2,
  subtotal: 24.5,
  quoted_eta_seconds: 1800,
  quoted_range_seconds: [1500, 2300],
  promised_at: '2026-01-05T12:33:00+01:00',
  model_version: 'v7',
  ...extra,
});

describe('POST /v1/events', () => {
  let dir: string;
  let app: HttpServer;
  let log: FileEventLog;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-events-ingest-'));
    log = new FileEventLog({
      dir,
      mode: 'writer',
      segmentBytes: 1 << 20,
      retentionMs: 0,
      maxDiskBytes: 0,
      dedupeWindowMs: 86_400_000,
      dedupeMaxIds: 10_000,
    });
    await log.open();
    const metrics = createMetrics();
    const ingest = new EventIngest(
      log,
      new EventValidator({ maxEventBytes: 4096, maxAppPayloadBytes: 512 }),
      { maxBatchEvents: 100 },
      metrics.registry,
    );
    app = createHttpServer({
      name: 'test',
      logger: createLogger({ level: 'silent' }),
      metrics,
      readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
    });
    await app.register(
      eventRoutes({
        ingest,
        authorizeEvents: authorize,
        authorizeAdmin: authorize,
        maxBatchBytes: 64 * 1024,
      }),
    );
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { ...KEY, ...headers },
      payload: payload as string,
    });

  async function logged(): Promise<LogRecord[]> {
    return (await log.read('earliest', 10_000)).records;
  }

  it('keeps the good events of a batch and rejects each bad one alone, with a reason', async () => {
    const res = await post([
      created('a1'),
      { ...created('a2'), destination: undefined },
      { ...created('a3'), items: 'two' },
      { event_id: 'a4', type: 'order.teleported', occurred_at: '2026-01-05T12:00:00Z' },
      { ...created('a5'), occurred_at: '2026-01-05 12:00' },
      {
        event_id: 'a6',
        type: 'rider.location',
        occurred_at: '2026-01-05T12:00:00Z',
        rider_id: 'r1',
        lat: 52.5,
        lng: 13.4,
      },
      {
        event_id: 'a7',
        type: 'app.store_list_viewed',
        occurred_at: '2026-01-05T12:00:00Z',
        blob: 'x'.repeat(600),
      },
      {
        event_id: 'x'.repeat(129),
        type: 'order.ready',
        occurred_at: '2026-01-05T12:00:00Z',
        order_id: 'o',
        store_id: 's',
      },
      'not an object',
      {
        event_id: 'a9',
        type: 'app.store_list_viewed',
        occurred_at: '2026-01-05T12:00:00Z',
        store_id: 'store-1',
      },
    ]);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.accepted).toBe(3);
    expect(body.duplicates).toBe(0);
    expect(body.rejected.map((r: { index: number; code: string }) => [r.index, r.code])).toEqual([
      [1, 'missing_field'],
      [2, 'invalid_type'],
      [3, 'unknown_type'],
      [4, 'bad_timestamp'],
      [6, 'too_large'],
      [7, 'invalid_value'],
      [8, 'not_an_object'],
    ]);
    expect(body.rejected[0].field).toBe('destination');
    expect((await logged()).map((r) => r.event.event_id)).toEqual(['a1', 'a6', 'a9']);
  });

  it('treats a replayed batch as a no-op', async () => {
    const batch = [created('b1'), created('b2')];
    const first = (await post(batch)).json();
    const before = (await logged()).length;
    const again = (await post(batch)).json();
    expect(first).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(again).toMatchObject({ accepted: 0, duplicates: 2, rejected: [] });
    expect((await logged()).length).toBe(before);
  });

  it('takes NDJSON, and rejects a line that is not JSON alone', async () => {
    const body = [
      JSON.stringify(created('n1')),
      '',
      '{"event_id": "n2", broken',
      JSON.stringify(created('n3')),
    ].join('\n');
    const res = await post(body, { 'content-type': 'application/x-ndjson' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 2, rejected: [{ index: 1, code: 'invalid_json' }] });
    const ids = (await logged()).map((r) => r.event.event_id);
    expect(ids).toContain('n1');
    expect(ids).toContain('n3');
  });

  it('refuses a batch over the event count or byte limit, and a body that is not a list', async () => {
    const many = Array.from({ length: 101 }, (_, i) => created(`m${i}`));
    expect((await post(many)).statusCode).toBe(413);
    expect((await post([created('big', { pad: 'x'.repeat(70 * 1024) })])).statusCode).toBe(413);
    const single = await post(created('s1'));
    expect(single.statusCode).toBe(400);
    expect(single.json().error.field).toBe('body');
  });

  it('stores each event as sent, with its schema version, for readers in other processes', async () => {
    const sent = [
      created('r1', { note: 'Zürich → 東京' }),
      {
        type: 'order.ready',
        event_id: 'r2',
        occurred_at: '2026-01-05T12:05:00Z',
        order_id: 'o',
        store_id: 's',
      },
      { ...created('r3'), schema_version: 1 },
      { ...created('r4'), extra: { __proto__: { admin: true } } },
    ];
    // One event with a prototype key (JSON.stringify writes it as an own key); one more sent pretty-printed.
    const body = JSON.stringify(sent).replace('"extra":{}', '"extra":{"__proto__":{"admin":true}}');
    const res = await post(body, { 'content-type': 'application/json' });
    expect(res.json()).toMatchObject({ accepted: 3, rejected: [{ index: 3, code: 'invalid_value' }] });
    const pretty = created('r5', { note: 'spaced' });
    sent.push(pretty);
    const json = { 'content-type': 'application/json' };
    expect((await post(JSON.stringify([pretty], null, 2), json)).json()).toMatchObject({ accepted: 1 });
    const reader = new FileEventLog({
      dir,
      mode: 'reader',
      segmentBytes: 1 << 20,
      retentionMs: 0,
      maxDiskBytes: 0,
      dedupeWindowMs: 86_400_000,
      dedupeMaxIds: 10_000,
    });
    await reader.open();
    const onDisk = (await reader.read('earliest', 10_000)).records.map((r) => r.event);
    await reader.close();
    for (const e of [...sent.slice(0, 3), pretty]) {
      expect(onDisk.find((d) => d.event_id === e.event_id)).toEqual({ ...e, schema_version: 1 });
    }
  });

  it('needs an events key', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/events', payload: [created('k1')] });
    expect(res.statusCode).toBe(401);
  });
});
