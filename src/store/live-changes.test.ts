import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  cacheConfigSchema,
  createCacheModule,
  LocalInvalidationBus,
  storeLiveKey,
  type CacheConfig,
  type CacheModule,
  type InvalidationBus,
} from '../cache/index.js';
import { MemoryEventLog, type EtaEvent } from '../events/index.js';
import { createLogger, createMetrics, platformConfigSchema, type PlatformConfig } from '../platform/index.js';
import { storeConfigSchema, type StoreConfig } from './config.js';
import { createStoreModule, type StoreModule } from './module.js';
import { liveAt } from './live-state.js';
import type { StoreLiveSnapshot } from './types.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-live-changes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PERIOD_MS = 20;
const HOUR = 3_600_000;
const STORE = 's-1';
const ctx = () => ({
  logger: createLogger({ level: 'silent' }),
  metrics: createMetrics(),
  platform: { ...(Value.Default(platformConfigSchema, {}) as PlatformConfig), dataDir: dir },
});

let running: Array<{ store: StoreModule; cache: CacheModule }> = [];
afterEach(async () => {
  for (const { store, cache } of running) {
    await store.service.stop!();
    await cache.service.stop!();
  }
  running = [];
});

/** A store module announcing its changes, its event log, and one predictor's cached reads of its live state. */
async function platform(bus?: InvalidationBus) {
  // Live state cached for 10 minutes: only an announcement can make a read see a change sooner.
  const config = Value.Default(cacheConfigSchema, { ttlMs: { storeLive: 600_000 } }) as CacheConfig;
  const cache = createCacheModule(ctx(), config);
  const generations = bus ?? cache.bus;
  const log = new MemoryEventLog({ dedupeWindowMs: HOUR, dedupeMaxIds: 10_000 });
  const store = createStoreModule(
    ctx(),
    {
      ...(Value.Default(storeConfigSchema, {}) as StoreConfig),
      sqlitePath: path.join(dir, `${Math.random()}.db`),
    },
    { log, replayHours: 1, pollMs: 5 },
    {
      liveCache: cache.cacheFor('store-live'),
      bus: generations,
      periodMs: PERIOD_MS,
    },
  );
  await cache.service.start!(new AbortController().signal);
  await store.service.start!(new AbortController().signal);
  running.push({ store, cache });
  await store.catalog.create({
    storeId: STORE,
    name: 'Kitchen',
    location: { lat: 48.85, lng: 2.35 },
    category: 'pizza',
    timezone: 'Europe/Paris',
    openingHours: {},
    deliveryRadiusKm: 5,
    prepProfile: { meanSeconds: 900, p90Seconds: 1500 },
  });
  const live = cache.cacheFor<StoreLiveSnapshot>('store-live');
  /** Kitchen load for an order at `atMs`, as a predictor reads it: through the cache, loading from the store. */
  const kitchen = async (atMs: number): Promise<number> => {
    const snapshot = await live.getOrLoad(storeLiveKey(STORE), async () =>
      (await store.store.getLive([STORE])).get(STORE)!,
    );
    return liveAt(snapshot, atMs, 'Europe/Paris').ordersInKitchen;
  };
  let seq = 0;
  const accept = async (n: number, storeId = STORE): Promise<void> => {
    const events: EtaEvent[] = Array.from({ length: n }, () => ({
      event_id: `e-${++seq}`,
      type: 'order.accepted',
      occurred_at: new Date().toISOString(),
      order_id: `o-${seq}`,
      store_id: storeId,
    }));
    await log.append(events);
  };
  return { cache, store, kitchen, accept, generation: () => generations.generation(STORE) };
}

async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('timed out');
}

describe('store change announcements', () => {
  it('drop cached live state, for every order hour, when the kitchen changes', async () => {
    const p = await platform();
    // An order for two hours from now has its own entry; the kitchen's orders still count then.
    const later = Date.now() + 2 * HOUR;
    expect(await p.kitchen(Date.now())).toBe(0);
    expect(await p.kitchen(later)).toBe(0);
    await p.accept(3);
    await until(async () => (await p.kitchen(Date.now())) === 3);
    await until(async () => (await p.kitchen(later)) === 3);
  });

  it('move the store generation once per period however busy the store, after its live state is dropped', async () => {
    const p = await platform();
    expect(await p.kitchen(Date.now())).toBe(0);
    const before = p.generation()!;
    await p.accept(50);
    await until(() => p.generation()! > before);
    // Whoever builds a key on the new generation already reads the new state.
    expect(await p.kitchen(Date.now())).toBe(50);
    expect(p.generation()).toBe(before + 1);
    await new Promise((r) => setTimeout(r, 5 * PERIOD_MS));
    expect(p.generation()).toBe(before + 1);
    expect(p.cache.bus.generation('another-store')).toBe(0);
  });

  it('move the generation when the store profile is written', async () => {
    const p = await platform();
    const before = p.generation()!;
    await p.store.catalog.patch(STORE, { prepProfile: { meanSeconds: 1200, p90Seconds: 1800 } });
    await until(() => p.generation()! > before);
  });

  it('keep trying to move a generation that could not be moved (Redis down)', async () => {
    const local = new LocalInvalidationBus();
    let refusals = 3;
    const flaky: InvalidationBus = {
      publish: (cache, keys) => local.publish(cache, keys),
      subscribe: (listener) => local.subscribe(listener),
      generation: (id) => local.generation(id),
      advance: async (ids) => (refusals-- > 0 ? false : local.advance(ids)),
      start: () => local.start(),
      close: () => local.close(),
    };
    const p = await platform(flaky);
    await p.accept(1);
    await until(() => p.generation()! > 0);
    expect(refusals).toBeLessThan(0);
  });
});
