import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { preHandlerAsyncHookHandler } from 'fastify';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHttpServer,
  createLogger,
  createMetrics,
  EtaError,
  platformConfigSchema,
  type HttpServer,
  type PlatformConfig,
} from '../src/platform/index.js';
import {
  createStoreModule,
  storeCatalogRoutes,
  storeConfigSchema,
  type StoreConfig,
  type StoreModule,
} from '../src/store/index.js';

/** A stand-in for the gateway's API keys: "Bearer admin" may write, "Bearer reader" may read. */
const authorize =
  (...allowed: string[]): preHandlerAsyncHookHandler =>
  async (req) => {
    const key = /^Bearer (\w+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!key) throw new EtaError('unauthorized', 'an API key is required');
    if (!allowed.includes(key)) throw new EtaError('forbidden', 'this key may not do that');
  };

const ADMIN = { authorization: 'Bearer admin' };
const READER = { authorization: 'Bearer reader' };

const body = (id: string, change: Record<string, unknown> = {}): Record<string, unknown> => ({
  store_id: id,
  name: `Store ${id}`,
  location: { lat: 48.86, lng: 2.35 },
  category: 'pizza',
  timezone: 'Europe/Paris',
  opening_hours: { thu: [['11:00', '14:30']] },
  delivery_radius_km: 5,
  prep_profile: { mean_seconds: 600, p90_seconds: 900 },
  ...change,
});

describe('store HTTP routes', () => {
  let dir: string;
  let app: HttpServer;
  let mod: StoreModule;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-store-routes-'));
    const logger = createLogger({ level: 'silent' });
    const ctx = {
      logger,
      metrics: createMetrics(),
      platform: { ...(Value.Default(platformConfigSchema, {}) as PlatformConfig), dataDir: dir },
    };
    mod = createStoreModule(ctx, {
      ...(Value.Default(storeConfigSchema, {}) as StoreConfig),
      maxPageSize: 3,
    });
    await mod.service.start!(new AbortController().signal);
    app = createHttpServer({
      name: 'store-test',
      logger,
      metrics: ctx.metrics,
      readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
    });
    await app.register(mod.internalRoutes);
    await app.register(
      storeCatalogRoutes({
        catalog: mod.catalog,
        authorizeAdmin: authorize('admin'),
        authorizeRead: authorize('admin', 'reader'),
      }),
    );
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
    await mod.service.stop!();
    rmSync(dir, { recursive: true, force: true });
  });

  it('needs a key, and the admin one to write', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/stores', payload: body('s-1') })).statusCode).toBe(
      401,
    );
    expect(
      (await app.inject({ method: 'POST', url: '/v1/stores', headers: READER, payload: body('s-1') }))
        .statusCode,
    ).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/v1/stores' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: '/v1/stores/s-1', headers: READER })).statusCode).toBe(
      403,
    );
  });

  it('creates, reads, replaces, patches and deletes', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/stores',
      headers: ADMIN,
      payload: body('crud-1'),
    });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe('/v1/stores/crud-1');
    const json = created.json();
    expect(json).toMatchObject({
      ...body('crud-1'),
      created_at: expect.any(String),
      updated_at: json.created_at,
    });

    const read = await app.inject({ method: 'GET', url: '/v1/stores/crud-1', headers: READER });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(json);

    expect(
      (
        await app.inject({ method: 'POST', url: '/v1/stores', headers: ADMIN, payload: body('crud-1') })
      ).json(),
    ).toMatchObject({ error: { code: 'store_exists' } });

    const { store_id: _id, ...withoutId } = body('crud-1', { name: 'Replaced' });
    const replaced = await app.inject({
      method: 'PUT',
      url: '/v1/stores/crud-1',
      headers: ADMIN,
      payload: withoutId,
    });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json()).toMatchObject({ name: 'Replaced', created_at: json.created_at });
    expect(
      (await app.inject({ method: 'PUT', url: '/v1/stores/crud-2', headers: ADMIN, payload: body('crud-2') }))
        .statusCode,
    ).toBe(201);

    const patched = await app.inject({
      method: 'PATCH',
      url: '/v1/stores/crud-1',
      headers: ADMIN,
      payload: { delivery_radius_km: 9 },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ name: 'Replaced', delivery_radius_km: 9 });

    expect(
      (await app.inject({ method: 'DELETE', url: '/v1/stores/crud-1', headers: ADMIN })).statusCode,
    ).toBe(204);
    const gone = await app.inject({ method: 'GET', url: '/v1/stores/crud-1', headers: READER });
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toMatchObject({ error: { code: 'store_not_found', field: 'store_id' } });
    expect(
      (await app.inject({ method: 'DELETE', url: '/v1/stores/crud-1', headers: ADMIN })).statusCode,
    ).toBe(404);
    expect(
      (
        await app.inject({
          method: 'PATCH',
          url: '/v1/stores/crud-1',
          headers: ADMIN,
          payload: { name: 'x' },
        })
      ).statusCode,
    ).toBe(404);
  });

  it.each([
    ['a latitude out of range', body('bad-1', { location: { lat: 91, lng: 2 } }), 'location.lat'],
    ['a missing longitude', body('bad-1', { location: { lat: 1 } }), 'location.lng'],
    ['an unknown timezone', body('bad-1', { timezone: 'Mars/Olympus' }), 'timezone'],
    [
      'a p90 under the mean',
      body('bad-1', { prep_profile: { mean_seconds: 600, p90_seconds: 300 } }),
      'prep_profile.p90_seconds',
    ],
    [
      'a malformed opening time',
      body('bad-1', { opening_hours: { mon: [['9h', '17:00']] } }),
      'opening_hours.mon.0.0',
    ],
    ['an unknown weekday', body('bad-1', { opening_hours: { funday: [] } }), 'opening_hours.funday'],
    ['a radius of 0', body('bad-1', { delivery_radius_km: 0 }), 'delivery_radius_km'],
    ['a string for a number', body('bad-1', { delivery_radius_km: '5' }), 'delivery_radius_km'],
    ['an unknown field', body('bad-1', { colour: 'red' }), 'colour'],
    ['a bad store id', body('has space'), 'store_id'],
    ['a missing name', body('bad-1', { name: undefined }), 'name'],
  ])('refuses %s with 400 naming %s', async (_what, payload, field) => {
    const res = await app.inject({ method: 'POST', url: '/v1/stores', headers: ADMIN, payload });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'bad_request', field } });
  });

  it('refuses a PUT whose body names another store, and an empty PATCH', async () => {
    await app.inject({ method: 'PUT', url: '/v1/stores/p-1', headers: ADMIN, payload: body('p-1') });
    const put = await app.inject({
      method: 'PUT',
      url: '/v1/stores/p-1',
      headers: ADMIN,
      payload: body('p-2'),
    });
    expect(put.json()).toMatchObject({ error: { code: 'bad_request', field: 'store_id' } });
    const patch = await app.inject({ method: 'PATCH', url: '/v1/stores/p-1', headers: ADMIN, payload: {} });
    expect(patch.statusCode).toBe(400);
    const cross = await app.inject({
      method: 'PATCH',
      url: '/v1/stores/p-1',
      headers: ADMIN,
      payload: { prep_profile: { mean_seconds: 1000, p90_seconds: 999 } },
    });
    expect(cross.json()).toMatchObject({ error: { field: 'prep_profile.p90_seconds' } });
  });

  it('never answers 500 to garbage', async () => {
    const payloads = [
      'not json',
      '[]',
      'null',
      '42',
      '"x"',
      '{"store_id":{}}',
      '{"location":[1,2]}',
      '{"opening_hours":{"mon":"all day"}}',
      '{"prep_profile":null}',
    ];
    for (const payload of payloads) {
      for (const [method, url] of [
        ['POST', '/v1/stores'],
        ['PUT', '/v1/stores/g-1'],
        ['PATCH', '/v1/stores/g-1'],
        ['POST', '/internal/store/features'],
      ] as const) {
        const res = await app.inject({
          method,
          url,
          headers: { ...ADMIN, 'content-type': 'application/json' },
          payload,
        });
        expect(res.statusCode, `${method} ${url} ${payload}`).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, `${method} ${url} ${payload}`).toBeLessThan(500);
        expect(res.json().error.code).toBeTypeOf('string');
      }
    }
    expect(
      (await app.inject({ method: 'GET', url: '/v1/stores/' + 'x'.repeat(65), headers: READER })).statusCode,
    ).toBe(400);
  });

  it('pages with limit and cursor, capped at maxPageSize', async () => {
    for (const id of ['l-1', 'l-2', 'l-3', 'l-4'])
      await app.inject({ method: 'PUT', url: `/v1/stores/${id}`, headers: ADMIN, payload: body(id) });
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/stores?limit=100${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await app.inject({ method: 'GET', url, headers: READER })).json() as {
        stores: Array<{ store_id: string }>;
        next_cursor: string | null;
      };
      expect(page.stores.length).toBeLessThanOrEqual(3);
      all.push(...page.stores.map((s) => s.store_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(all).toEqual([...all].sort());
    expect(all).toEqual(expect.arrayContaining(['l-1', 'l-2', 'l-3', 'l-4']));
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['cursor=@@@', 'cursor'],
      ['page=2', 'page'],
    ]) {
      const res = await app.inject({ method: 'GET', url: `/v1/stores?${query}`, headers: READER });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.field, query).toBe(field);
    }
  });

  it('serves feature records on the internal API', async () => {
    await app.inject({ method: 'PUT', url: '/v1/stores/f-1', headers: ADMIN, payload: body('f-1') });
    const atMs = Date.parse('2026-11-26T10:00:00+01:00'); // Thursday, before 11:00
    mod.liveState.orderAccepted('f-1', 'o-1', atMs - 60_000);
    mod.liveState.seed('f-1', 3 * 24 + 10, 720);
    const res = await app.inject({
      method: 'POST',
      url: '/internal/store/features',
      payload: { store_ids: ['f-1', 'unknown', 'f-1'], at_ms: atMs },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      stores: [
        {
          store_id: 'f-1',
          location: { lat: 48.86, lng: 2.35 },
          category: 'pizza',
          timezone: 'Europe/Paris',
          delivery_radius_km: 5,
          prep_mean_seconds: 600,
          prep_p90_seconds: 900,
          prep_ewma_seconds: 720,
          orders_in_kitchen: 1,
          open: false,
          opens_at: '2026-11-26T11:00:00+01:00',
        },
      ],
    });
  });
});
