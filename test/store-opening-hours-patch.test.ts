import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHttpServer,
  createLogger,
  createMetrics,
  platformConfigSchema,
  type HttpServer,
  type PlatformConfig,
} from '../src/platform/index.js';
import { mergeOpeningHours } from '../src/store/catalog.js';
import {
  createStoreModule,
  storeCatalogRoutes,
  storeConfigSchema,
  type StoreConfig,
  type StoreModule,
} from '../src/store/index.js';

/** Opening hours over the store API: a PATCH merges by day, overnight hours say what they mean. */
const ALL_DAY: Array<[string, string]> = [['00:00', '24:00']];
const store = (id: string, hours?: Record<string, unknown>): Record<string, unknown> => ({
  store_id: id,
  name: `Store ${id}`,
  location: { lat: 48.86, lng: 2.35 },
  category: 'pizza',
  timezone: 'Europe/Paris',
  ...(hours ? { opening_hours: hours } : {}),
  delivery_radius_km: 5,
  prep_profile: { mean_seconds: 600, p90_seconds: 900 },
});
const WEEK = {
  mon: [['11:00', '22:00']],
  tue: [['11:00', '22:00']],
  wed: [['11:00', '22:00']],
  thu: [['11:00', '22:00']],
  fri: [['11:00', '23:00']],
  sat: [['12:00', '23:00']],
  sun: [['12:00', '21:00']],
};

describe('opening hours over the store API', () => {
  let dir: string;
  let app: HttpServer;
  let mod: StoreModule;
  const send = (method: 'PUT' | 'PATCH', id: string, payload: unknown) =>
    app.inject({
      method,
      url: `/v1/stores/${id}`,
      headers: { authorization: 'admin' },
      payload: payload as object,
    });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-store-hours-'));
    const logger = createLogger({ level: 'silent' });
    const ctx = {
      logger,
      metrics: createMetrics(),
      platform: { ...(Value.Default(platformConfigSchema, {}) as PlatformConfig), dataDir: dir },
    };
    mod = createStoreModule(ctx, Value.Default(storeConfigSchema, {}) as StoreConfig);
    await mod.service.start!(new AbortController().signal);
    app = createHttpServer({
      name: 'store-hours-test',
      logger,
      metrics: ctx.metrics,
      readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
    });
    await app.register(mod.internalRoutes);
    const allow = async (): Promise<void> => undefined;
    await app.register(
      storeCatalogRoutes({ catalog: mod.catalog, authorizeAdmin: allow, authorizeRead: allow }),
    );
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await mod.service.stop!();
    rmSync(dir, { recursive: true, force: true });
  });

  it("PATCHing Monday's hours changes Monday only", async () => {
    expect((await send('PUT', 'w-1', store('w-1', WEEK))).statusCode).toBe(201);
    const res = await send('PATCH', 'w-1', { opening_hours: { mon: [['07:00', '10:00']] } });
    expect(res.statusCode).toBe(200);
    expect(res.json().opening_hours).toEqual({ ...WEEK, mon: [['07:00', '10:00']] });
  });

  it('closes a day given [] or null, and leaves the rest', async () => {
    await send('PUT', 'w-2', store('w-2', WEEK));
    const res = await send('PATCH', 'w-2', { opening_hours: { tue: [], sun: null } });
    expect(res.statusCode).toBe(200);
    expect(res.json().opening_hours).toEqual({ ...WEEK, tue: [], sun: [] });
  });

  it('keeps a 24/7 store open on the days a PATCH leaves out', async () => {
    await send('PUT', 'w-3', store('w-3'));
    const res = await send('PATCH', 'w-3', { opening_hours: { mon: [['11:00', '22:00']] } });
    expect(res.json().opening_hours).toEqual({
      mon: [['11:00', '22:00']],
      tue: ALL_DAY,
      wed: ALL_DAY,
      thu: ALL_DAY,
      fri: ALL_DAY,
      sat: ALL_DAY,
      sun: ALL_DAY,
    });
  });

  it('still replaces the whole week on PUT, and refuses null hours on PATCH', async () => {
    await send('PUT', 'w-4', store('w-4', WEEK));
    const put = await send('PUT', 'w-4', store('w-4', { fri: [['18:00', '23:00']] }));
    expect(put.json().opening_hours).toEqual({ fri: [['18:00', '23:00']] });
    const bad = await send('PATCH', 'w-4', { opening_hours: null });
    expect(bad.statusCode).toBe(400);
    const badDay = await send('PATCH', 'w-4', { opening_hours: { mon: [['9h', '12:00']] } });
    expect(badDay.statusCode).toBe(400);
    expect((await send('PATCH', 'w-4', { opening_hours: { funday: [] } })).statusCode).toBe(400);
  });

  it('serves overnight hours as open from the evening to the next morning', async () => {
    await send('PUT', 'n-1', store('n-1', { mon: [['23:00', '11:00']] }));
    const features = async (iso: string) =>
      (
        await app.inject({
          method: 'POST',
          url: '/internal/store/features',
          payload: { store_ids: ['n-1'], at_ms: Date.parse(iso) },
        })
      ).json().stores[0] as { open: boolean; opens_at: string | null };
    // 2026-11-30 is a Monday; Paris is UTC+1.
    expect(await features('2026-11-30T22:00:00+01:00')).toMatchObject({
      open: false,
      opens_at: '2026-11-30T23:00:00+01:00',
    });
    expect(await features('2026-12-01T09:00:00+01:00')).toMatchObject({ open: true, opens_at: null });
    expect(await features('2026-12-01T11:30:00+01:00')).toMatchObject({
      open: false,
      opens_at: '2026-12-07T23:00:00+01:00',
    });
  });
});

describe('mergeOpeningHours', () => {
  it('replaces the days given, closes [] and null, keeps the others', () => {
    const current = { mon: [['09:00', '17:00']] as Array<[string, string]>, tue: [] };
    expect(mergeOpeningHours(current, { tue: [['10:00', '12:00']], wed: null })).toEqual({
      mon: [['09:00', '17:00']],
      tue: [['10:00', '12:00']],
      wed: [],
    });
    expect(mergeOpeningHours(current, {})).toBe(current);
  });
});
