import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, waitFor, type Platform } from './support/processes.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { ensureTemplate } from './support/template.js';
import { childUrl, during, warmedUp, metricSum, steadyTraffic } from './fault-traffic.js';

let redis: RedisServer | undefined;
let cluster: Platform | undefined;

beforeAll(async () => {
  await ensureTemplate();
  redis = await startRedis();
  if (!redis) return;
  // Short TTLs, so L1 keeps missing and the test sees L2 use stop and resume within its window.
  cluster = await startCluster(2, {
    ETASERVE_CACHE_REDIS_URL: redis.url,
    ETASERVE_CACHE_TTL_MS_RESPONSES: '5000',
    ETASERVE_CACHE_TTL_MS_STORE_LIVE: '2000',
  });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  await redis?.stop();
}, 60_000);

/**
 * L2 calls Redis answered, over every cache of a process. Not lookups: hot keys are refreshed in the background,
 * and a refresh's L2 read is not a lookup, so a busy predictor may go minutes without one.
 */
const l2Calls = (url: string): Promise<number> => metricSum(url, 'etaserve_cache_l2_calls_total');

it('Redis stopped and started again: no failed request, and the shared L2 is used again', async (ctx) => {
  if (!redis || !cluster) return ctx.skip();
  const predictor = childUrl(cluster.running.output(), 'predictor-1');
  const traffic = steadyTraffic(cluster.url);
  await warmedUp(traffic);
  traffic.mark();
  expect(await metricSum(cluster.url, 'etaserve_cache_l2_up')).toBe(1);
  expect(await l2Calls(cluster.url)).toBeGreaterThan(0);

  await redis.kill9();
  await waitFor(async () => (await metricSum(cluster!.url, 'etaserve_cache_l2_up')) === 0, 10_000, 'L2 down');
  await during(3000);
  await redis.restart();
  await waitFor(
    async () =>
      (await metricSum(cluster!.url, 'etaserve_cache_l2_up')) === 1 &&
      (await metricSum(predictor, 'etaserve_cache_l2_up')) === 1,
    20_000,
    'L2 back up in the gateway and the predictor',
  );
  const [gatewayBefore, predictorBefore] = [await l2Calls(cluster.url), await l2Calls(predictor)];
  // The predictor calls L2 when its L1 entries expire or refresh (short TTLs above) past the response cache.
  await waitFor(
    async () => (await l2Calls(cluster!.url)) > gatewayBefore && (await l2Calls(predictor)) > predictorBefore,
    20_000,
    'L2 calls answered again in the gateway and the predictor',
  );
  const seen = await traffic.stop();
  expect(seen.failures).toEqual([]);
  expect(seen.failed).toBe(0);
}, 90_000);
