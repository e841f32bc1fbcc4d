import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { isEtaError } from '../src/platform/index.js';
import {
  openPostgresCatalog,
  openSqliteCatalog,
  type NewStore,
  type StoreCatalog,
} from '../src/store/index.js';
import { POSTGRES_DIRS, requireBinary } from './support/binaries.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

/** The same CRUD suite against every catalog implementation: they must be indistinguishable. */
interface Backend {
  name: string;
  available: boolean;
  open(now: () => number): Promise<StoreCatalog>;
  /** Makes the database stop answering. */
  kill(): Promise<void>;
  cleanup(): Promise<void>;
}

const clock = { ms: Date.parse('2026-11-26T10:00:00Z') };
const now = (): number => clock.ms;

function sqliteBackend(): Backend {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-store-'));
  let n = 0;
  let last: StoreCatalog | undefined;
  return {
    name: 'sqlite',
    available: true,
    // A fresh file per test: no state leaks between tests.
    open: async (nowFn) =>
      (last = await openSqliteCatalog(path.join(dir, `catalog-${++n}.db`), { maxPageSize: 50, now: nowFn })),
    kill: async () => void (await last?.close()),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresBackend(): Backend {
  const available = requireBinary('initdb', 'the PostgreSQL catalog tests', POSTGRES_DIRS) !== undefined;
  let server: TestPostgres | undefined;
  return {
    name: 'postgres',
    available,
    open: async (nowFn) => {
      server ??= await startPostgres();
      if (!server) throw new Error('PostgreSQL did not start');
      const catalog = await openPostgresCatalog(server.url, {
        maxPageSize: 50,
        poolSize: 4,
        queryTimeoutMs: 3000,
        now: nowFn,
      });
      // One database for the suite: emptied so each test starts clean.
      const client = new pg.Client(server.url);
      await client.connect();
      await client.query('TRUNCATE stores');
      await client.end();
      return catalog;
    },
    kill: async () => server?.stop(),
    cleanup: async () => server?.stop(),
  };
}

const store = (id: string, change: Partial<NewStore> = {}): NewStore => ({
  storeId: id,
  name: `Store ${id}`,
  location: { lat: 48.856613, lng: 2.352222 },
  category: 'pizza',
  timezone: 'Europe/Paris',
  openingHours: {
    mon: [
      ['11:00', '14:30'],
      ['18:00', '02:00'],
    ],
    sun: [['00:00', '24:00']],
  },
  deliveryRadiusKm: 4.5,
  prepProfile: { meanSeconds: 610.5, p90Seconds: 930 },
  ...change,
});

const failure = async (
  p: Promise<unknown>,
): Promise<{ code: string; field?: string | undefined; status: number }> => {
  try {
    await p;
  } catch (e) {
    if (isEtaError(e)) return { code: e.code, field: e.field, status: e.status };
    throw e;
  }
  throw new Error('expected a failure');
};

describe.each([sqliteBackend(), postgresBackend()])('$name store catalog', (backend) => {
  let catalog: StoreCatalog;

  beforeEach(async (ctx) => {
    if (!backend.available) ctx.skip();
    clock.ms = Date.parse('2026-11-26T10:00:00Z');
    catalog = await backend.open(now);
    return () => catalog.close();
  });
  afterAll(() => backend.cleanup());

  it('creates and reads a store back exactly', async () => {
    const created = await catalog.create(store('s-1'));
    expect(created).toEqual({
      ...store('s-1'),
      createdAt: '2026-11-26T10:00:00.000Z',
      updatedAt: '2026-11-26T10:00:00.000Z',
    });
    expect(await catalog.get('s-1')).toEqual(created);
    expect(await catalog.count()).toBe(1);
  });

  it('refuses a second store with the same id', async () => {
    await catalog.create(store('s-1'));
    expect(await failure(catalog.create(store('s-1', { name: 'Other' })))).toEqual({
      code: 'store_exists',
      field: 'store_id',
      status: 409,
    });
    expect((await catalog.get('s-1'))!.name).toBe('Store s-1');
  });

  it('answers unknown ids with nothing', async () => {
    await catalog.create(store('s-1'));
    expect(await catalog.get('nope')).toBeUndefined();
    const many = await catalog.getMany(['s-1', 'nope', 's-1']);
    expect([...many.keys()]).toEqual(['s-1']);
    expect((await catalog.getMany([])).size).toBe(0);
  });

  it('validates every write and names the field', async () => {
    expect(await failure(catalog.create(store('s-1', { location: { lat: 91, lng: 0 } })))).toMatchObject({
      code: 'bad_request',
      field: 'location.lat',
    });
    expect(await failure(catalog.put(store('s-1', { timezone: 'Nowhere/Else' })))).toMatchObject({
      field: 'timezone',
    });
    expect(await catalog.count()).toBe(0);
  });

  it('puts: creates, then replaces keeping createdAt', async () => {
    expect((await catalog.put(store('s-1'))).created).toBe(true);
    clock.ms += 60_000;
    const replaced = await catalog.put(store('s-1', { name: 'Renamed', openingHours: {} }));
    expect(replaced.created).toBe(false);
    expect(replaced.store).toMatchObject({
      name: 'Renamed',
      openingHours: {},
      createdAt: '2026-11-26T10:00:00.000Z',
      updatedAt: '2026-11-26T10:01:00.000Z',
    });
    expect(await catalog.get('s-1')).toEqual(replaced.store);
  });

  it('patches some fields and validates the result as a whole', async () => {
    await catalog.create(store('s-1'));
    clock.ms += 1000;
    const patched = await catalog.patch('s-1', { deliveryRadiusKm: 8, category: 'burger' });
    expect(patched).toMatchObject({
      deliveryRadiusKm: 8,
      category: 'burger',
      name: 'Store s-1',
      updatedAt: new Date(clock.ms).toISOString(),
    });
    // A p90 below the stored mean is refused, and nothing changes.
    expect(
      await failure(catalog.patch('s-1', { prepProfile: { meanSeconds: 2000, p90Seconds: 1000 } })),
    ).toMatchObject({ field: 'prep_profile.p90_seconds' });
    expect(await catalog.get('s-1')).toEqual(patched);
    expect(await failure(catalog.patch('nope', { name: 'x' }))).toMatchObject({
      code: 'store_not_found',
      status: 404,
    });
  });

  it('keeps both of two concurrent patches', async () => {
    await catalog.create(store('s-1'));
    await Promise.all([catalog.patch('s-1', { name: 'A' }), catalog.patch('s-1', { category: 'asian' })]);
    expect(await catalog.get('s-1')).toMatchObject({ name: 'A', category: 'asian' });
  });

  it('deletes', async () => {
    await catalog.create(store('s-1'));
    await catalog.delete('s-1');
    expect(await catalog.get('s-1')).toBeUndefined();
    expect(await failure(catalog.delete('s-1'))).toMatchObject({ code: 'store_not_found' });
  });

  it('upserts in bulk, all or nothing', async () => {
    const first = await catalog.create(store('s-0000'));
    clock.ms += 1000;
    const many = Array.from({ length: 1200 }, (_, i) =>
      store(`s-${String(i).padStart(4, '0')}`, { deliveryRadiusKm: 3 }),
    );
    expect(
      await catalog.upsertMany([...many, store('s-0001', { name: 'last wins', deliveryRadiusKm: 3 })]),
    ).toEqual({ created: 1199, updated: 1 });
    expect(await catalog.count()).toBe(1200);
    expect((await catalog.get('s-0001'))!.name).toBe('last wins');
    expect(await catalog.get('s-0000')).toMatchObject({
      createdAt: first.createdAt,
      updatedAt: new Date(clock.ms).toISOString(),
    });

    const broken = [store('t-1'), store('t-2', { deliveryRadiusKm: 500 })];
    expect(await failure(catalog.upsertMany(broken))).toMatchObject({
      code: 'bad_request',
      field: 'stores.1.delivery_radius_km',
    });
    expect(await catalog.get('t-1')).toBeUndefined();
  });

  it('lists in id order with cursors', async () => {
    await catalog.upsertMany(Array.from({ length: 120 }, (_, i) => store(`s-${String(i).padStart(3, '0')}`)));
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await catalog.list({ limit: 1000, cursor });
      expect(page.stores.length).toBeLessThanOrEqual(50);
      ids.push(...page.stores.map((s) => s.storeId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(ids).toEqual(Array.from({ length: 120 }, (_, i) => `s-${String(i).padStart(3, '0')}`));
    expect(await failure(catalog.list({ cursor: 'bogus' }))).toMatchObject({
      code: 'bad_request',
      field: 'cursor',
    });
  });

  // Last: it takes the database away.
  it('answers database_unavailable (503) when the database is gone', async () => {
    await catalog.create(store('s-1'));
    await backend.kill();
    const started = Date.now();
    expect(await failure(catalog.get('s-1'))).toMatchObject({ code: 'database_unavailable', status: 503 });
    expect(await failure(catalog.create(store('s-2')))).toMatchObject({ code: 'database_unavailable' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('opening an unreachable PostgreSQL', () => {
  it('fails as database_unavailable, quickly', async () => {
    const e = await failure(
      openPostgresCatalog('postgres://postgres@127.0.0.1:1/none', {
        maxPageSize: 10,
        poolSize: 1,
        queryTimeoutMs: 1000,
      }),
    );
    expect(e).toMatchObject({ code: 'database_unavailable', status: 503 });
  });
});
