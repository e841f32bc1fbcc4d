import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Platform } from './support/processes.js';
import { ensureTemplate } from './support/template.js';
import { during, kill9, warmedUp, steadyTraffic } from './fault-traffic.js';

let cluster: Platform;

beforeAll(async () => {
  await ensureTemplate();
  cluster = await startCluster(2, { ETASERVE_GATEWAY_RESPONSE_CACHE: 'false' });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

it('with every predictor down, every answer is a 200 marked degraded (the fallback ETA)', async () => {
  const traffic = steadyTraffic(cluster.url);
  await warmedUp(traffic);
  kill9(cluster.pids.get('predictor-1'));
  kill9(cluster.pids.get('predictor-2'));
  await during(500);
  traffic.mark();
  await during(4000);
  const after = await traffic.stop();
  expect(after.failures).toEqual([]);
  expect(after.ok).toBeGreaterThan(10);
  expect(after.degraded).toBe(after.ok);
}, 60_000);
