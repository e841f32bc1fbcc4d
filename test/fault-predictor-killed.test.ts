import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Platform } from './support/processes.js';
import { ensureTemplate } from './support/template.js';
import { childUrl, during, warmedUp, kill9, metricSum, steadyTraffic } from './fault-traffic.js';

let cluster: Platform;

beforeAll(async () => {
  await ensureTemplate();
  // The response cache off, so every request reaches a predictor.
  cluster = await startCluster(2, { ETASERVE_GATEWAY_RESPONSE_CACHE: 'false' });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

it('kill -9 of one of two predictor replicas fails no client request', async () => {
  const traffic = steadyTraffic(cluster.url);
  await warmedUp(traffic);
  kill9(cluster.pids.get('predictor-1'));
  traffic.mark();
  await during(6000);
  const after = await traffic.stop();
  expect(after.failures).toEqual([]);
  expect(after.failed).toBe(0);
  // The survivor answered: real predictions, not the fallback.
  expect(after.ok - after.degraded).toBeGreaterThan(after.ok / 2);
  // The dead replica's breaker is not closed.
  const dead = childUrl(cluster.running.output(), 'predictor-1');
  expect(await metricSum(cluster.url, 'etaserve_breaker_state', { replica: dead })).toBeGreaterThan(0);
}, 60_000);
