import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Registry } from '../src/platform/index.js';
import { startRedis } from './support/redis.js';
import { cacheReplica, type CacheReplica } from './support/cache-replica.js';
import { waitFor } from './support/processes.js';

/** Two replicas of a service sharing one real Redis: L2 sharing, pub/sub invalidation, and an outage. */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const redis = await startRedis();

type Replica = CacheReplica;
const replica = cacheReplica;

async function gauge(registry: Registry, name: string): Promise<number> {
  return (await registry.getSingleMetric(name)!.get()).values[0]?.value ?? NaN;
}

describe.skipIf(!redis)('cache with a real Redis', () => {
  const replicas: Replica[] = [];
  const start = async (): Promise<Replica> => {
    const r = replica({ redisUrl: redis!.url, l2TimeoutMs: 50 });
    replicas.push(r);
    await r.module.service.start!(new AbortController().signal);
    return r;
  };

  afterAll(async () => {
    for (const r of replicas) await r.module.service.stop!();
    await redis?.stop();
  });

  it('a second replica is served from L2 under the namespaced key', async () => {
    const a = await start();
    const b = await start();
    let loads = 0;
    const loader = async (key: string): Promise<{ id: string; prepMin: number }> => ({
      id: key,
      prepMin: ++loads,
    });
    expect(await a.module.cacheFor('store-profiles').getOrLoad('s1', loader)).toEqual({
      id: 's1',
      prepMin: 1,
    });
    expect(await b.module.cacheFor('store-profiles').getOrLoad('s1', loader)).toEqual({
      id: 's1',
      prepMin: 1,
    });
    expect(loads).toBe(1);
    expect(b.module.cacheFor('store-profiles').stats().l2.hits).toBe(1);

    const raw = new Redis(redis!.url);
    const stored = await raw.get('etaserve:store-profiles:s1');
    const ttl = await raw.pttl('etaserve:store-profiles:s1');
    await raw.quit();
    expect(stored).toContain('{"id":"s1","prepMin":1}');
    // TTL of store profiles (5 min) plus the stale-while-revalidate grace (half of it).
    expect(ttl).toBeGreaterThan(400_000);
    expect(ttl).toBeLessThanOrEqual(450_000);

    const page = await b.module
      .cacheFor<{ id: string; prepMin: number }>('store-profiles')
      .getOrLoadMany(
        ['s1', 's2', 's3'],
        async (keys) => new Map(keys.map((k) => [k, { id: k, prepMin: 0 }])),
      );
    expect([...page.keys()]).toEqual(['s1', 's2', 's3']);
    expect(page.get('s1')!.prepMin).toBe(1);
  });

  it('invalidate on one replica drops the key from the other replica’s L1 through pub/sub', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const cacheA = a.module.cacheFor<string>('store-live');
    const cacheB = b.module.cacheFor<string>('store-live');
    await cacheA.getOrLoad('s9', async () => 'busy');
    await cacheB.getOrLoad('s9', async () => 'unused');
    expect(cacheA.stats().l1.entries).toBe(1);
    await cacheB.invalidate('s9');
    await waitFor(() => cacheA.stats().l1.entries === 0, 2000, 'replica A to drop s9');
    expect(await cacheA.getOrLoad('s9', async () => 'quiet')).toBe('quiet');
  });

  it('serves every request while Redis is killed, logs down and recovery once, and uses L2 again after', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const cacheA = a.module.cacheFor<string>('geo-trips');
    const cacheB = b.module.cacheFor<string>('geo-trips');
    expect(await gauge(a.registry, 'etaserve_cache_l2_up')).toBe(1);
    await redis!.kill9();

    let failures = 0;
    let served = 0;
    let slowest = 0;
    const outageEnds = Date.now() + 1500;
    for (let i = 0; Date.now() < outageEnds; i++) {
      const started = performance.now();
      const results = await Promise.allSettled([
        cacheA.getOrLoad(`trip-${i % 20}`, async (k) => `a:${k}`),
        cacheB.getOrLoadMany(
          [`trip-${i % 7}`, `trip-${i % 11}`],
          async (keys) => new Map(keys.map((k) => [k, k])),
        ),
      ]);
      slowest = Math.max(slowest, performance.now() - started);
      failures += results.filter((r) => r.status === 'rejected').length;
      served += results.length;
      await sleep(5);
    }
    expect(failures).toBe(0);
    expect(served).toBeGreaterThan(50);
    // Commands fail fast while Redis is down rather than waiting for their deadline.
    expect(slowest).toBeLessThan(400);
    expect(await gauge(a.registry, 'etaserve_cache_l2_up')).toBe(0);
    expect(cacheA.stats().l2.failures).toBeGreaterThan(0);

    await redis!.restart();
    await waitFor(
      async () =>
        (await gauge(a.registry, 'etaserve_cache_l2_up')) === 1 &&
        (await gauge(b.registry, 'etaserve_cache_l2_up')) === 1,
      10_000,
      'both replicas to reconnect',
    );
    const hitsBefore = cacheB.stats().l2.hits;
    await cacheA.getOrLoad('after-outage', async () => 'fresh');
    expect(await cacheB.getOrLoad('after-outage', async () => 'not used')).toBe('fresh');
    expect(cacheB.stats().l2.hits).toBe(hitsBefore + 1);

    for (const r of [a, b]) {
      expect(r.logs.filter((l) => l.msg.startsWith('redis L2 down')).length).toBe(1);
      expect(r.logs.filter((l) => l.msg.startsWith('redis L2 recovered')).length).toBe(1);
    }
  });

  it('start does not fail while Redis is unreachable', async () => {
    const r = replica({ redisUrl: 'redis://127.0.0.1:1', l2TimeoutMs: 20 });
    await r.module.service.start!(new AbortController().signal);
    expect(await r.module.cacheFor<string>('responses').getOrLoad('k', async () => 'v')).toBe('v');
    expect(await gauge(r.registry, 'etaserve_cache_l2_up')).toBe(0);
    await r.module.service.stop!();
    expect(r.logs.filter((l) => l.msg.startsWith('redis L2 unavailable')).length).toBe(1);
  });
});
