import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHttpServer,
  createLogger,
  createMetrics,
  HttpClient,
  isEtaError,
  platformConfigSchema,
  type HttpServer,
  type PlatformConfig,
} from '../src/platform/index.js';
import {
  createStoreModule,
  StoreClient,
  storeConfigSchema,
  type NewStore,
  type StoreConfig,
  type StoreModule,
} from '../src/store/index.js';
import { liveAt } from '../src/store/live-state.js';

const store = (id: string, change: Partial<NewStore> = {}): NewStore => ({
  storeId: id,
  name: `Store ${id}`,
  location: { lat: 52.52, lng: 13.405 },
  category: 'asian',
  timezone: 'Europe/Berlin',
  openingHours: { fri: [['18:00', '02:00']] },
  deliveryRadiusKm: 3,
  prepProfile: { meanSeconds: 500, p90Seconds: 800 },
  ...change,
});

const failure = async (p: Promise<unknown>): Promise<{ code: string; field: string | undefined }> => {
  try {
    await p;
  } catch (e) {
    if (isEtaError(e)) return { code: e.code, field: e.field };
    throw e;
  }
  throw new Error('expected a failure');
};

/** A remote store process must be indistinguishable from the in-process module. */
describe('StoreClient against a store process', () => {
  let dir: string;
  let app: HttpServer;
  let mod: StoreModule;
  let client: StoreClient;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-store-client-'));
    const logger = createLogger({ level: 'silent' });
    const ctx = {
      logger,
      metrics: createMetrics(),
      platform: { ...(Value.Default(platformConfigSchema, {}) as PlatformConfig), dataDir: dir },
    };
    mod = createStoreModule(ctx, Value.Default(storeConfigSchema, {}) as StoreConfig);
    await mod.service.start!(new AbortController().signal);
    app = createHttpServer({
      name: 'store',
      logger,
      metrics: ctx.metrics,
      readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
    });
    await app.register(mod.internalRoutes);
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    client = new StoreClient(new HttpClient({ name: 'store', baseUrl: address, timeoutMs: 5000 }));
  });

  afterAll(async () => {
    await client.close();
    await app.close();
    await mod.service.stop!();
    rmSync(dir, { recursive: true, force: true });
  });

  it('does CRUD with the same results and errors as in-process', async () => {
    const created = await client.create(store('c-1'));
    expect(created).toEqual(await mod.catalog.get('c-1'));
    expect(await client.get('c-1')).toEqual(created);
    expect(await client.get('missing')).toBeUndefined();
    expect(await client.get('not a valid id')).toBeUndefined();
    expect(await failure(client.create(store('c-1')))).toEqual({ code: 'store_exists', field: 'store_id' });
    expect(await failure(client.create(store('c-2', { location: { lat: 100, lng: 0 } })))).toEqual({
      code: 'bad_request',
      field: 'location.lat',
    });

    expect(await client.put(store('c-1', { name: 'Put' }))).toMatchObject({
      created: false,
      store: { name: 'Put', createdAt: created.createdAt },
    });
    expect(
      (await client.patch('c-1', { prepProfile: { meanSeconds: 400, p90Seconds: 450 } })).prepProfile,
    ).toEqual({ meanSeconds: 400, p90Seconds: 450 });
    expect(await failure(client.patch('missing', { name: 'x' }))).toMatchObject({ code: 'store_not_found' });
    await client.delete('c-1');
    expect(await failure(client.delete('c-1'))).toMatchObject({ code: 'store_not_found' });
  });

  it('bulk-loads in requests of 1000, numbering errors across them', async () => {
    const many = Array.from({ length: 1500 }, (_, i) => store(`b-${String(i).padStart(4, '0')}`));
    expect(await client.upsertMany(many)).toEqual({ created: 1500, updated: 0 });
    expect(await client.count()).toBe(await mod.catalog.count());
    const broken = many.map((s, i) => (i === 1200 ? { ...s, deliveryRadiusKm: -1 } : s));
    expect(await failure(client.upsertMany(broken))).toEqual({
      code: 'bad_request',
      field: 'stores.1200.delivery_radius_km',
    });

    const page = await client.list({ limit: 2 });
    expect(page.stores.map((s) => s.storeId)).toEqual(['b-0000', 'b-0001']);
    const next = await client.list({ limit: 2, cursor: page.nextCursor });
    expect(next.stores.map((s) => s.storeId)).toEqual(['b-0002', 'b-0003']);
    const many2 = await client.getMany(['b-0001', 'nope', 'b-0001', 'bad id']);
    expect([...many2.keys()]).toEqual(['b-0001']);
  });

  it('returns the same feature records as the module', async () => {
    const atMs = Date.parse('2026-11-27T17:00:00+01:00'); // Friday, an hour before opening
    mod.liveState.orderAccepted('b-0007', 'o-1', atMs - 1000);
    const ids = ['b-0007', 'b-0008', 'nope', 'bad id'];
    const remote = await client.getStoreFeatures(ids, atMs);
    expect(remote).toEqual(await mod.store.getStoreFeatures(ids.slice(0, 3), atMs));
    expect(remote.get('b-0007')).toMatchObject({
      ordersInKitchen: 1,
      open: false,
      opensAt: '2026-11-27T18:00:00+01:00',
    });
    expect((await client.getStoreFeatures([], atMs)).size).toBe(0);
  });

  it('returns live state snapshots that answer as the module does for any order time', async () => {
    const atMs = Date.parse('2026-11-27T17:00:00+01:00');
    mod.liveState.orderAccepted('b-0009', 'o-2', atMs - 1000);
    mod.liveState.seed('b-0009', 4 * 24 + 17, 777.7);
    const remote = await client.getLive(['b-0009', 'b-0010', 'bad id']);
    expect([...remote.keys()]).toEqual(['b-0009', 'b-0010']);
    for (const at of [atMs, atMs + 3 * 3_600_000, atMs + 5 * 24 * 3_600_000]) {
      for (const id of ['b-0009', 'b-0010']) {
        expect(liveAt(remote.get(id)!, at, 'Europe/Berlin')).toEqual(
          mod.liveState.get(id, at, 'Europe/Berlin'),
        );
      }
    }
    expect(liveAt(remote.get('b-0009')!, atMs, 'Europe/Berlin')).toEqual({
      ordersInKitchen: 1,
      prepEwmaSeconds: Math.fround(777.7),
    });
  });
});
