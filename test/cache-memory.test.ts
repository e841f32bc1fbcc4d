import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheMetrics, TieredCache, type Codec } from '../src/cache/index.js';
import { travelSnapshotCodec } from '../src/geo/cached-geo.js';
import type { TravelSnapshot } from '../src/geo/index.js';
import { Registry } from '../src/platform/index.js';
import type { EtaPrediction } from '../src/predictor/index.js';
import { buildCity } from '../src/simulator/index.js';
import { LiveState, openSqliteCatalog, type Store, type StoreLiveSnapshot } from '../src/store/index.js';
import { storeLiveCodec } from '../src/store/module.js';

/**
 * The L1 byte bounds are what keeps a process's memory where its operator sized it: they must count what the
 * cache really holds in the heap (the decoded values, the entries, the keys), not the shorter encoded strings.
 * Each kind of value cached in production is put in a cache as production makes it, and the heap it adds is
 * measured after a full collection.
 */
v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-cache-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The heap, and the memory of array buffers (typed arrays keep their contents outside the heap), once collections
 * stop giving any back: array buffers are freed by a sweeper running beside the program, which lags when the
 * machine is busy.
 */
async function settledHeap(): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 20; round++) {
    gc();
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    const now = heapUsed + arrayBuffers;
    if (Math.abs(last - now) < 16_384) return now;
    last = now;
  }
  return last;
}

/**
 * Fills a cache with the values `produce` makes; returns the bytes it counts and the heap it holds: what releasing
 * the cache gives back, so no garbage made while producing the values (nor left by earlier tests) is measured.
 */
async function fill<V>(
  produce: () => Promise<V[]>,
  codec?: Codec<V>,
): Promise<{ counted: number; heap: number }> {
  let cache: TieredCache<V> | undefined = new TieredCache<V>({
    name: 'responses',
    ttlMs: 600_000,
    l1MaxBytes: 1 << 30,
    refresh: { graceRatio: 1, xfetchBeta: 0 },
    metrics: cacheMetrics(new Registry()),
    ...(codec ? { codec } : {}),
  });
  const values = await produce();
  const n = values.length;
  for (let i = 0; i < n; i++) await cache.set(`key:${i}:${(i * 7919) % 100_003}`, values[i]!);
  values.length = 0;
  const counted = cache.stats().l1.bytes;
  expect(cache.stats().l1.entries).toBe(n);
  const held = await settledHeap();
  cache.close();
  cache = undefined;
  const heap = held - (await settledHeap());
  return { counted, heap };
}

/** A value as it arrives from the wire: decoded from its JSON, sharing nothing with its neighbours. */
const decoded = <V>(value: V): V => JSON.parse(JSON.stringify(value)) as V;

describe('L1 byte bounds count what the cache holds', () => {
  const N = 5_000;

  it('for ETA answers (the gateway responses cache)', async () => {
    const { counted, heap } = await fill<EtaPrediction>(async () =>
      Array.from({ length: N }, (_, i) =>
        decoded({
          storeId: `s-${String(i).padStart(5, '0')}`,
          p10: 1200 + i,
          p50: 1700.5 + i,
          p90: 2400.25 + i,
          prepSeconds: 600 + (i % 300),
          travelSeconds: 900.75,
          distanceKm: 2.345 + i / 1000,
          timezone: 'Europe/Paris',
          modelVersion: '3',
          degraded: i % 10 === 0,
          degradedReasons: i % 10 === 0 ? ['geo_unavailable'] : [],
        }),
      ),
    );
    expect(counted).toBeGreaterThanOrEqual(heap);
    expect(counted).toBeLessThan(4 * heap);
  });

  it('for store profiles read from the catalog (the store-profiles cache)', async () => {
    const city = buildCity({ seed: 7, stores: N });
    const catalog = await openSqliteCatalog(path.join(dir, 'stores.db'), { maxPageSize: 500 });
    await catalog.upsertMany(city.stores);
    const ids = city.stores.map((s) => s.storeId);
    const { counted, heap } = await fill<Store>(async () => [...(await catalog.getMany(ids)).values()]);
    catalog.close();
    expect(counted).toBeGreaterThanOrEqual(heap);
    expect(counted).toBeLessThan(4 * heap);
  });

  it('for travel snapshots (the geo-trips cache)', async () => {
    const t0 = Date.parse('2026-11-30T12:00:00Z');
    const { counted, heap } = await fill<TravelSnapshot>(
      async () =>
        Array.from({ length: N }, (_, i) =>
          decoded({
            handoffSeconds: 150,
            detourFactor: 1.3,
            timezone: 'Europe/Paris',
            bandSpeedsKmh: Array.from({ length: 12 }, (_, b) => 14.5 + ((i + b) % 9) / 4),
            // No rider near some stores, a handful near most, many near a few.
            riders: {
              pingsMs: Array.from({ length: i % 10 === 0 ? 40 : i % 7 }, (_, r) => t0 - r * 9_731),
              lastPingMs: t0,
              ttlMs: 120_000,
            },
          }),
        ),
      travelSnapshotCodec,
    );
    expect(counted).toBeGreaterThanOrEqual(heap);
    expect(counted).toBeLessThan(4 * heap);
  });

  it('for live state snapshots (the store-live cache)', async () => {
    const live = new LiveState({ alpha: 0.2, kitchenOrderTtlMs: 3_600_000 });
    const t0 = Date.parse('2026-11-30T12:00:00Z');
    const { counted, heap } = await fill<StoreLiveSnapshot>(
      async () =>
        Array.from({ length: N }, (_, i) => {
          const id = `s-${i}`;
          // Prep times at the hours a store is open (half the week), and a few orders in its kitchen.
          for (let h = 0; h < 168; h++) if (h % 24 >= 10) live.seed(id, h, 600 + ((i + h) % 500) / 3);
          for (let o = 0; o < i % 6; o++) live.orderAccepted(id, `${id}-o${o}`, t0 + o * 60_000);
          const snapshot = storeLiveCodec.decode(storeLiveCodec.encode(live.snapshot(id)));
          live.forget(id);
          return snapshot;
        }),
      storeLiveCodec,
    );
    expect(counted).toBeGreaterThanOrEqual(heap);
    expect(counted).toBeLessThan(4 * heap);
  });
});
