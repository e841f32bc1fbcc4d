import { afterAll, describe, expect, it } from 'vitest';
import { startRedisCluster } from './support/redis.js';
import { cacheReplica, type CacheReplica } from './support/cache-replica.js';

/** Two replicas on a real six-node Redis Cluster: cross-slot pages round-trip, and a master fails over. */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const cluster = await startRedisCluster();

type Replica = CacheReplica;

async function replica(nodes: string[]): Promise<Replica> {
  const r = cacheReplica({ redisClusterNodes: nodes, l2TimeoutMs: 50 });
  await r.module.service.start!(new AbortController().signal);
  return r;
}

const keys = Array.from({ length: 30 }, (_, i) => `store-${i}`);
const page = async (ks: string[]): Promise<Map<string, { store: string }>> =>
  new Map(ks.map((k) => [k, { store: k }]));

describe.skipIf(!cluster)('cache with a real Redis Cluster', () => {
  const replicas: Replica[] = [];

  afterAll(async () => {
    for (const r of replicas) await r.module.service.stop!();
    await cluster?.stop();
  });

  it('a page of keys across slots round-trips through L2 to another replica', async () => {
    replicas.push(await replica(cluster!.nodes), await replica(cluster!.nodes));
    const [a, b] = replicas as [Replica, Replica];
    const cacheA = a.module.cacheFor<{ store: string }>('store-profiles');
    const cacheB = b.module.cacheFor<{ store: string }>('store-profiles');
    expect((await cacheA.getOrLoadMany(keys, page)).size).toBe(30);
    let loaded = 0;
    const counted = async (ks: string[]): Promise<Map<string, { store: string }>> => {
      loaded += ks.length;
      return page(ks);
    };
    const fromB = await cacheB.getOrLoadMany(keys, counted);
    expect([...fromB.keys()]).toEqual(keys);
    expect(loaded).toBe(0);
    expect(cacheB.stats().l2.hits).toBe(30);
    expect(cacheB.stats().l2.failures).toBe(0);
    // Invalidation reaches the other replica through cluster pub/sub.
    await cacheA.invalidate('store-3');
    const deadline = Date.now() + 2000;
    while (cacheB.stats().l1.entries !== 29 && Date.now() < deadline) await sleep(20);
    expect(cacheB.stats().l1.entries).toBe(29);
  });

  it('a master killed with -9: no request fails while the cluster fails over, and L2 resumes', async () => {
    const [a, b] = replicas as [Replica, Replica];
    // A short TTL so reads keep reaching L2 (and the loader) during the failover instead of staying in L1.
    const cacheA = a.module.cacheFor<{ store: string }>('fo', { ttlMs: 100, l1MaxBytes: 1 << 20 });
    const cacheB = b.module.cacheFor<{ store: string }>('fo', { ttlMs: 100, l1MaxBytes: 1 << 20 });
    await cacheA.getOrLoadMany(keys, page);
    const [victim] = await cluster!.masters();
    await cluster!.killNode(victim!);

    let failures = 0;
    let served = 0;
    const started = Date.now();
    let resumedAt = 0;
    while (Date.now() - started < 20_000) {
      const results = await Promise.allSettled([
        cacheA.getOrLoadMany(keys, page),
        cacheB.getOrLoad(keys[served % keys.length]!, async (k) => ({ store: k })),
      ]);
      failures += results.filter((r) => r.status === 'rejected').length;
      served += results.length;
      // Resumed: a page that one replica loads is read whole from L2 by the other, with no L2 failure on the way.
      const probe = keys.map((k) => `probe-${served}-${k}`);
      const before = cacheB.stats();
      await cacheA.getOrLoadMany(probe, page);
      let loadedByB = 0;
      await cacheB.getOrLoadMany(probe, async (ks) => {
        loadedByB += ks.length;
        return page(ks);
      });
      const after = cacheB.stats();
      if (loadedByB === 0 && after.l2.failures === before.l2.failures && cacheA.stats().l2.failures > 0) {
        resumedAt = Date.now();
        break;
      }
      await sleep(100);
    }
    expect(failures).toBe(0);
    expect(served).toBeGreaterThan(10);
    expect(cacheB.stats().l2.failures + cacheA.stats().l2.failures).toBeGreaterThan(0);
    expect(resumedAt).toBeGreaterThan(0);
    expect(await (await a.registry.getSingleMetric('etaserve_cache_l2_up')!.get()).values[0]?.value).toBe(1);
  });
});
