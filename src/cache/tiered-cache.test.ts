import { describe, expect, it } from 'vitest';
import { currentContext, Registry, withContext, type RequestContext } from '../platform/index.js';
import { LocalInvalidationBus } from './invalidation.js';
import { MemoryL2 } from './l2.js';
import { cacheMetrics } from './metrics.js';
import { TieredCache, type TieredCacheOptions } from './tiered-cache.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return match?.value ?? 0;
}

function makeCache<V>(
  overrides: Partial<TieredCacheOptions<V>> = {},
  registry = new Registry(),
): TieredCache<V> {
  return new TieredCache<V>({
    name: 'responses',
    ttlMs: 1000,
    l1MaxBytes: 1024 * 1024,
    refresh: { graceRatio: 1, xfetchBeta: 0 },
    metrics: cacheMetrics(registry),
    ...overrides,
  });
}

/** A loader that counts its calls and takes `delayMs`, returning `<key>#<call number>`. */
function countingLoader(delayMs = 5): { calls: () => number; load: (key: string) => Promise<string> } {
  let calls = 0;
  return {
    calls: () => calls,
    load: async (key) => {
      const n = ++calls;
      await sleep(delayMs);
      return `${key}#${n}`;
    },
  };
}

describe('L1', () => {
  it('stays within its byte bound, evicting least recently used entries and counting them', async () => {
    const registry = new Registry();
    const cache = makeCache<string>({ l1MaxBytes: 10_000 }, registry);
    const value = 'x'.repeat(500);
    for (let i = 0; i < 100; i++) await cache.set(`k${i}`, value);
    const stats = cache.stats();
    expect(stats.l1.bytes).toBeLessThanOrEqual(10_000);
    expect(stats.l1.entries).toBeLessThan(100);
    expect(stats.l1.evictions).toBe(100 - stats.l1.entries);
    expect(await cache.get('k0')).toBeUndefined();
    expect(await cache.get('k99')).toBe(value);
    expect(
      await metricValue(registry, 'etaserve_cache_evictions_total', { cache: 'responses', level: 'l1' }),
    ).toBe(stats.l1.evictions);
  });

  it('reports what its L1 holds as gauges an operator can read beside the bound', async () => {
    const registry = new Registry();
    const cache = makeCache<string>({ l1MaxBytes: 100_000 }, registry);
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, 'z'.repeat(100 * i));
    const { bytes, entries } = cache.stats().l1;
    expect(bytes).toBeGreaterThan(2 * 100 * 190);
    expect(await metricValue(registry, 'etaserve_cache_l1_bytes', { cache: 'responses' })).toBe(bytes);
    expect(await metricValue(registry, 'etaserve_cache_l1_entries', { cache: 'responses' })).toBe(entries);
    cache.close();
  });

  it('does not keep an entry larger than the whole bound', async () => {
    const cache = makeCache<string>({ l1MaxBytes: 2_000 });
    await cache.set('big', 'y'.repeat(5_000));
    expect(await cache.get('big')).toBeUndefined();
  });

  it('expires entries after their TTL (no grace: reloads at once)', async () => {
    const cache = makeCache<string>({ ttlMs: 40, refresh: { graceRatio: 0, xfetchBeta: 0 } });
    const loader = countingLoader(1);
    expect(await cache.getOrLoad('a', loader.load)).toBe('a#1');
    expect(await cache.getOrLoad('a', loader.load)).toBe('a#1');
    await sleep(60);
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.getOrLoad('a', loader.load)).toBe('a#2');
    expect(loader.calls()).toBe(2);
  });

  it('honours a per-call TTL', async () => {
    const cache = makeCache<string>({ ttlMs: 10_000, refresh: { graceRatio: 0, xfetchBeta: 0 } });
    const loader = countingLoader(1);
    await cache.getOrLoad('a', loader.load, { ttlMs: 30 });
    await sleep(50);
    expect(await cache.getOrLoad('a', loader.load)).toBe('a#2');
  });
});

describe('single flight', () => {
  it('makes one load for many concurrent misses of a key', async () => {
    const registry = new Registry();
    const cache = makeCache<string>({}, registry);
    const loader = countingLoader(20);
    const values = await Promise.all(Array.from({ length: 500 }, () => cache.getOrLoad('k', loader.load)));
    expect(new Set(values)).toEqual(new Set(['k#1']));
    expect(loader.calls()).toBe(1);
    expect(
      await metricValue(registry, 'etaserve_cache_requests_total', { level: 'l1', result: 'miss' }),
    ).toBe(500);
    const load = (await registry.getSingleMetric('etaserve_cache_load_seconds')!.get()).values;
    expect(
      load.find((v) => (v as { metricName?: string }).metricName === 'etaserve_cache_load_seconds_count')
        ?.value,
    ).toBe(1);
  });

  it('shares loads between the batch path and single gets', async () => {
    const cache = makeCache<string>();
    const batchCalls: string[][] = [];
    const batch = async (keys: string[]): Promise<Map<string, string>> => {
      batchCalls.push(keys);
      await sleep(20);
      return new Map(keys.map((k) => [k, `batch:${k}`]));
    };
    const single = countingLoader(1);
    const [page, b, again] = await Promise.all([
      cache.getOrLoadMany(['a', 'b', 'c', 'a'], batch),
      cache.getOrLoad('b', single.load),
      cache.getOrLoadMany(['c', 'd'], batch),
    ]);
    expect([...page.entries()]).toEqual([
      ['a', 'batch:a'],
      ['b', 'batch:b'],
      ['c', 'batch:c'],
    ]);
    expect(b).toBe('batch:b');
    expect([...again.keys()]).toEqual(['c', 'd']);
    expect(single.calls()).toBe(0);
    expect(batchCalls).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('leaves out keys the batch loader did not return, and does not cache them', async () => {
    const cache = makeCache<string>();
    const page = await cache.getOrLoadMany(['a', 'missing'], async () => new Map([['a', 'A']]));
    expect([...page.keys()]).toEqual(['a']);
    expect(await cache.get('missing')).toBeUndefined();
  });

  it('gives every waiter the loader error and caches nothing', async () => {
    const cache = makeCache<string>();
    let calls = 0;
    const failing = async (): Promise<string> => {
      calls++;
      await sleep(5);
      throw new Error('store down');
    };
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrLoad('k', failing)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(calls).toBe(1);
    expect(cache.stats().inflight).toBe(0);
    expect(await cache.getOrLoad('k', async () => 'ok')).toBe('ok');
  });
});

describe('early refresh', () => {
  it('1,000 concurrent reads of an expiring hot key make exactly one load per refresh', async () => {
    const cache = makeCache<string>({ ttlMs: 200, refresh: { graceRatio: 2, xfetchBeta: 0 } });
    const loader = countingLoader(15);
    expect(await cache.getOrLoad('hot', loader.load)).toBe('hot#1');
    for (let round = 1; round <= 3; round++) {
      await sleep(210); // past freshUntil, inside the grace window
      const values = await Promise.all(
        Array.from({ length: 1000 }, () => cache.getOrLoad('hot', loader.load)),
      );
      // Everyone is served at once from the stale value while one refresh runs.
      expect(new Set(values)).toEqual(new Set([`hot#${round}`]));
      expect(loader.calls()).toBe(round + 1);
      while (cache.stats().inflight > 0) await sleep(2); // the refresh lands
      expect(await cache.getOrLoad('hot', loader.load)).toBe(`hot#${round + 1}`);
      expect(loader.calls()).toBe(round + 1);
    }
    expect(cache.stats().l1.stale).toBe(3000);
  });

  it('1,000 concurrent reads after the grace window still make one load', async () => {
    const cache = makeCache<string>({ ttlMs: 20, refresh: { graceRatio: 0.5, xfetchBeta: 0 } });
    const loader = countingLoader(10);
    await cache.getOrLoad('hot', loader.load);
    await sleep(40);
    const values = await Promise.all(Array.from({ length: 1000 }, () => cache.getOrLoad('hot', loader.load)));
    expect(new Set(values)).toEqual(new Set(['hot#2']));
    expect(loader.calls()).toBe(2);
  });

  it('XFetch refreshes a hot key before it expires, one load at a time', async () => {
    const cache = makeCache<string>({ ttlMs: 150, refresh: { graceRatio: 1, xfetchBeta: 8 } });
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const load = async (key: string): Promise<string> => {
      calls++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(15);
      running--;
      return `${key}#${calls}`;
    };
    await cache.getOrLoad('hot', load);
    const started = Date.now();
    while (Date.now() - started < 140) {
      await Promise.all(Array.from({ length: 50 }, () => cache.getOrLoad('hot', load)));
      await sleep(2);
    }
    // With a 15 ms load and beta 8, a refresh before the 150 ms TTL ran out is all but certain.
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(cache.stats().l1.stale).toBe(0);
    expect(maxRunning).toBe(1);
  });

  it('keeps serving the stale value when a background refresh fails', async () => {
    const cache = makeCache<string>({ ttlMs: 20, refresh: { graceRatio: 5, xfetchBeta: 0 } });
    await cache.getOrLoad('k', async () => 'v1');
    await sleep(30);
    const failing = async (): Promise<string> => {
      throw new Error('nope');
    };
    expect(await cache.getOrLoad('k', failing)).toBe('v1');
    await sleep(5);
    expect(await cache.getOrLoad('k', failing)).toBe('v1');
    expect(cache.stats().loadFailures).toBeGreaterThanOrEqual(1);
  });
});

describe('two levels and invalidation', () => {
  function replicas(): {
    a: TieredCache<string>;
    b: TieredCache<string>;
    l2: MemoryL2;
    bus: LocalInvalidationBus;
  } {
    const l2 = new MemoryL2();
    const bus = new LocalInvalidationBus();
    const a = makeCache<string>({ name: 'store-profiles', l2, bus });
    const b = makeCache<string>({ name: 'store-profiles', l2, bus });
    return { a, b, l2, bus };
  }

  it('a second replica is served from L2 without loading', async () => {
    const { a, b } = replicas();
    const loader = countingLoader(1);
    await a.getOrLoad('s1', loader.load);
    expect(await b.getOrLoad('s1', loader.load)).toBe('s1#1');
    expect(loader.calls()).toBe(1);
    expect(b.stats().l2.hits).toBe(1);
    const page = await b.getOrLoadMany(['s1', 's2'], async (keys) => new Map(keys.map((k) => [k, `p:${k}`])));
    expect([...page.values()]).toEqual(['s1#1', 'p:s2']);
  });

  it('invalidate drops the key from L2 and from every replica’s L1', async () => {
    const { a, b, l2 } = replicas();
    const loader = countingLoader(1);
    await a.getOrLoad('s1', loader.load);
    await b.getOrLoad('s1', loader.load);
    await a.invalidate('s1');
    expect(l2.size).toBe(0);
    expect(await b.get('s1')).toBeUndefined();
    expect(await b.getOrLoad('s1', loader.load)).toBe('s1#2');
    expect(await a.getOrLoad('s1', loader.load)).toBe('s1#2');
  });

  it('a load that was running when the key was invalidated is not stored', async () => {
    const { a, b } = replicas();
    const slow = a.getOrLoad('s1', async () => {
      await sleep(20);
      return 'old';
    });
    await b.invalidate('s1');
    expect(await slow).toBe('old');
    expect(await a.get('s1')).toBeUndefined();
  });

  it('ignores invalidations of other caches and drops everything on resync', async () => {
    const { a, bus } = replicas();
    await a.set('s1', 'v');
    await bus.publish('responses', ['s1']);
    expect(await a.getOrLoad('s1', async () => 'reloaded')).toBe('v');
    bus.resync();
    expect(a.stats().l1.entries).toBe(0);
  });

  it('counts a background refresh as L2 calls answered, not as an L2 lookup', async () => {
    const registry = new Registry();
    const cache = makeCache<string>(
      { l2: new MemoryL2(), ttlMs: 20, refresh: { graceRatio: 5, xfetchBeta: 0 } },
      registry,
    );
    const loader = countingLoader(1);
    await cache.getOrLoad('k', loader.load); // miss: one counted L2 read, then the write
    const calls = (op: string): Promise<number> =>
      metricValue(registry, 'etaserve_cache_l2_calls_total', { cache: 'responses', op });
    expect([await calls('get'), await calls('set')]).toEqual([1, 1]);
    await sleep(30);
    expect(await cache.getOrLoad('k', loader.load)).toBe('k#1'); // stale, served while refreshing
    while (cache.stats().inflight > 0) await sleep(2);
    expect(loader.calls()).toBe(2);
    expect([await calls('get'), await calls('set')]).toEqual([2, 2]);
    expect(cache.stats().l2.hits + cache.stats().l2.misses).toBe(1);
  });

  it('serves from L1 and the loader when L2 is down, counting the failures', async () => {
    const registry = new Registry();
    const l2 = new MemoryL2();
    l2.down = true;
    const cache = makeCache<string>({ l2 }, registry);
    expect(await cache.getOrLoad('k', async () => 'v')).toBe('v');
    expect(await cache.getOrLoad('k', async () => 'other')).toBe('v');
    await cache.invalidate('k');
    expect(cache.stats().l2.failures).toBe(3); // get, set, del
    expect(
      await metricValue(registry, 'etaserve_cache_l2_failures_total', { op: 'get', reason: 'down' }),
    ).toBe(1);
  });

  it('loads for the request that asked, so the loader’s calls carry its trace, with or without L2', async () => {
    const ctx: RequestContext = { requestId: 'r-1', traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) };
    for (const l2 of [undefined, new MemoryL2()]) {
      const cache = makeCache<string>(l2 ? { l2 } : {});
      let seen: RequestContext | undefined;
      const pending = withContext(ctx, () =>
        cache.getOrLoadMany(['k'], async (keys) => {
          seen = currentContext();
          return new Map(keys.map((k) => [k, 'v']));
        }),
      );
      expect(currentContext()).toBeUndefined();
      expect((await pending).get('k')).toBe('v');
      expect(seen).toBe(ctx);
    }
  });
});
