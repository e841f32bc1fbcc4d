import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { cacheConfigSchema, createCacheModule, type CacheConfig } from '../cache/index.js';
import {
  createLogger,
  createMetrics,
  EtaError,
  platformConfigSchema,
  type PlatformConfig,
} from '../platform/index.js';
import type { Store, StoreLiveSnapshot } from './index.js';
import { FeatureCache } from './feature-cache.js';

const store = (id: string, name = 'Kitchen'): Store => ({
  storeId: id,
  name,
  location: { lat: 48.857, lng: 2.35 },
  category: 'pizza',
  timezone: 'Europe/Paris',
  openingHours: { thu: [['11:00', '22:00']] },
  deliveryRadiusKm: 4,
  prepProfile: { meanSeconds: 900, p90Seconds: 1500 },
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
});

/** A store service stand-in that can be taken down, counting the calls that reach it. */
function storeService() {
  const catalog = new Map([['s-1', store('s-1')]]);
  const state = { down: false, profileCalls: 0, liveCalls: 0 };
  const unavailable = (): never => {
    throw new EtaError('upstream_unavailable', 'store is unreachable');
  };
  return {
    catalog,
    state,
    profiles: async (ids: readonly string[]) => {
      state.profileCalls++;
      if (state.down) unavailable();
      return new Map(ids.filter((id) => catalog.has(id)).map((id) => [id, catalog.get(id)!]));
    },
    /** Seven orders in the kitchen for the next hour, and 1000 s of prep at every hour of the week. */
    live: async (ids: readonly string[]) => {
      state.liveCalls++;
      if (state.down) unavailable();
      const snapshot: StoreLiveSnapshot = {
        kitchenUntilMs: Array.from({ length: 7 }, () => Date.now() + HOUR_MS),
        prepEwmaSlots: new Float32Array(168).fill(1000),
        prepEwmaOverall: 1000,
      };
      return new Map(ids.map((id) => [id, snapshot]));
    },
  };
}

function featureCache(
  service: ReturnType<typeof storeService>,
  liveTtlMs = 2000,
  liveMaxBytes = 1 << 20,
): FeatureCache {
  const ctx = {
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ target: 't' }),
    platform: Value.Default(platformConfigSchema, {}) as PlatformConfig,
  };
  const cache = createCacheModule(ctx, Value.Default(cacheConfigSchema, {}) as CacheConfig);
  return new FeatureCache({
    live: service.live,
    profiles: service.profiles,
    profileCache: cache.cacheFor('store-profiles'),
    liveCache: cache.cacheFor('store-live', {
      ttlMs: liveTtlMs,
      l1MaxBytes: liveMaxBytes,
      refresh: { graceRatio: 0 },
    }),
    deadlineMs: 50,
    logger: ctx.logger,
  });
}

const HOUR_MS = 3_600_000;
const OPEN = Date.parse('2026-11-26T19:05:00+01:00');
const CLOSED = Date.parse('2026-11-26T05:00:00+01:00');

describe('store features through the caches', () => {
  it('serves repeated orders from the caches, and open or closed from the order time', async () => {
    const service = storeService();
    const features = featureCache(service);
    const open = await features.storeFeatures(['s-1'], OPEN);
    const closed = await features.storeFeatures(['s-1'], CLOSED);
    await features.storeFeatures(['s-1'], OPEN);
    expect(open.records.get('s-1')).toMatchObject({ open: true, ordersInKitchen: 7, prepEwmaSeconds: 1000 });
    expect(closed.records.get('s-1')).toMatchObject({ open: false, opensAt: '2026-11-26T11:00:00+01:00' });
    expect(service.state.profileCalls).toBe(1);
    // One live entry per store answers every order time: orders hours apart are one call.
    expect(service.state.liveCalls).toBe(1);
    expect(open.degradedReasons).toEqual([]);
  });

  it('answers from last known values, marked degraded, while the store service is down', async () => {
    const service = storeService();
    const features = featureCache(service, 1);
    await features.storeFeatures(['s-1'], OPEN);
    service.state.down = true;
    await new Promise((r) => setTimeout(r, 10));
    const down = await features.storeFeatures(['s-1'], OPEN);
    expect(down.records.get('s-1')).toMatchObject({ open: true, ordersInKitchen: 7 });
    expect(down.degradedReasons).toEqual(['store_features_stale']);
    // A store never seen cannot be answered for.
    await expect(features.storeFeatures(['s-2'], OPEN)).rejects.toMatchObject({
      code: 'upstream_unavailable',
    });
    service.state.down = false;
    await new Promise((r) => setTimeout(r, 10));
    expect((await features.storeFeatures(['s-1'], OPEN)).degradedReasons).toEqual([]);
  });

  it("keeps last known live state within the live cache's byte bound, the oldest going first", async () => {
    const service = storeService();
    for (let i = 2; i <= 400; i++) service.catalog.set(`s-${i}`, store(`s-${i}`));
    // About 70 snapshots of a kitchen and a week of prep times.
    const features = featureCache(service, 1, 64 * 1024);
    for (let i = 1; i <= 400; i++) await features.storeFeatures([`s-${i}`], OPEN);
    service.state.down = true;
    await new Promise((r) => setTimeout(r, 10));
    const recent = await features.storeFeatures(['s-400'], OPEN);
    expect(recent.records.get('s-400')).toMatchObject({ ordersInKitchen: 7 });
    expect(recent.degradedReasons).toEqual(['store_features_stale']);
    const oldest = await features.storeFeatures(['s-1'], OPEN);
    expect(oldest.records.get('s-1')).toMatchObject({ ordersInKitchen: 0 });
    expect(oldest.degradedReasons).toEqual(['store_live_default']);
  });

  it('drops a store profile on invalidation, so an update shows at once', async () => {
    const service = storeService();
    const features = featureCache(service);
    await features.storeFeatures(['s-1'], OPEN);
    service.catalog.set('s-1', { ...store('s-1'), category: 'sushi' });
    expect((await features.storeFeatures(['s-1'], OPEN)).records.get('s-1')!.category).toBe('pizza');
    await features.invalidate(['s-1']);
    expect((await features.storeFeatures(['s-1'], OPEN)).records.get('s-1')!.category).toBe('sushi');
  });
});

describe('preloading profiles', () => {
  it('reads the catalog page by page into the cache, so first requests do not reach the store service', async () => {
    const service = storeService();
    for (let i = 2; i <= 250; i++) service.catalog.set(`s-${i}`, store(`s-${i}`));
    const features = featureCache(service);
    const ids = [...service.catalog.keys()].sort();
    let pages = 0;
    let failures = 1;
    const list = async ({ limit = 100, cursor }: { limit?: number; cursor?: string | null }) => {
      // One slow moment (a deadline passed): the page is read again.
      if (failures-- > 0) throw new EtaError('upstream_unavailable', 'deadline');
      pages++;
      const from = cursor ? ids.indexOf(cursor) + 1 : 0;
      const stores = ids.slice(from, from + limit).map((id) => service.catalog.get(id)!);
      return { stores, nextCursor: from + limit < ids.length ? ids[from + limit - 1]! : null };
    };
    expect(await features.preload(list, { pageSize: 100 })).toBe(250);
    expect(pages).toBe(3);
    const found = await features.storeFeatures(['s-1', 's-7', 's-250'], OPEN);
    expect(found.records.size).toBe(3);
    expect(service.state.profileCalls).toBe(0);
    expect(features.knownStores(5)).toHaveLength(5);
  });

  it('stops at its share of the byte bound, leaving the rest to live traffic', async () => {
    const service = storeService();
    for (let i = 2; i <= 2000; i++) service.catalog.set(`s-${i}`, store(`s-${i}`));
    const ids = [...service.catalog.keys()].sort();
    const features = featureCache(service);
    const list = async ({ limit = 100, cursor }: { limit?: number; cursor?: string | null }) => {
      const from = cursor ? ids.indexOf(cursor) + 1 : 0;
      const stores = ids.slice(from, from + limit).map((id) => service.catalog.get(id)!);
      return { stores, nextCursor: from + limit < ids.length ? ids[from + limit - 1]! : null };
    };
    // 32 MiB by default: a tiny share of it holds a few hundred profiles of ~400 bytes.
    const cached = await features.preload(list, { share: 0.005 });
    expect(cached).toBeGreaterThan(100);
    expect(cached).toBeLessThan(2000);
  });
});
