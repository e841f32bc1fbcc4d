import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Platform } from './support/processes.js';
import { startRedisCluster, type RedisClusterServers } from './support/redis.js';
import { ensureTemplate } from './support/template.js';
import { during, metricSum, warmedUp, steadyTraffic } from './fault-traffic.js';

let redis: RedisClusterServers | undefined;
let cluster: Platform | undefined;

beforeAll(async () => {
  await ensureTemplate();
  redis = await startRedisCluster();
  if (!redis) return;
  cluster = await startCluster(2, { ETASERVE_CACHE_REDIS_CLUSTER_NODES: redis.nodes.join(',') });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  await redis?.stop();
}, 60_000);

it('a Redis Cluster master killed under traffic fails no client request', async (ctx) => {
  if (!redis || !cluster) return ctx.skip();
  const traffic = steadyTraffic(cluster.url);
  await warmedUp(traffic);
  traffic.mark();
  expect(await metricSum(cluster.url, 'etaserve_cache_l2_up')).toBe(1);
  const [master] = await redis.masters();
  await redis.killNode(master!);
  // A replica is promoted after cluster-node-timeout (2 s) plus an election.
  await during(8000);
  const seen = await traffic.stop();
  const log = cluster.running
    .output()
    .split('\n')
    .filter((l) => l.includes('"warn"') || l.includes('"error"'));
  expect(
    seen.failures,
    log
      .slice(-12)
      .map((l) => l.slice(0, 700))
      .join('\n'),
  ).toEqual([]);
  expect(seen.failed).toBe(0);
  expect(seen.ok).toBeGreaterThan(50);
}, 90_000);
