import { afterAll, beforeAll, expect, it } from 'vitest';
import { run, startCluster, waitFor, type Platform, type Running } from './support/processes.js';
import { ensureTemplate } from './support/template.js';
import { childUrl, kill9, steadyTraffic, warmedUp } from './fault-traffic.js';

let cluster: Platform;
let replacement: Running | undefined;

beforeAll(async () => {
  await ensureTemplate();
  cluster = await startCluster(2, { ETASERVE_GATEWAY_RESPONSE_CACHE: 'false' });
}, 180_000);

afterAll(async () => {
  await replacement?.stop();
  await cluster?.stop();
}, 60_000);

it('with the store service down, predictors answer degraded from cached features, and recover when it is back', async () => {
  const storeUrl = childUrl(cluster.running.output(), 'store');
  const traffic = steadyTraffic(cluster.url);
  await warmedUp(traffic);

  kill9(cluster.pids.get('store'));
  traffic.mark();
  // Live state lives 2 s (plus 1 s grace) in the predictors' caches; after that the answers say they are degraded.
  await waitFor(() => traffic.seen().degraded > 20, 15_000, 'degraded answers');
  const down = traffic.seen();
  expect(down.failures).toEqual([]);

  // A replacement store process on the same port, over the same data directory.
  replacement = run(['start', '--target', 'store'], {
    ETASERVE_DATA_DIR: cluster.dataDir,
    ETASERVE_STORE_PORT: new URL(storeUrl).port,
    ETASERVE_TOPOLOGY_SHARED_DISK: 'true',
  });
  await waitFor(async () => (await fetch(`${storeUrl}/readyz`)).ok, 60_000, 'the replacement store');
  traffic.mark();
  await waitFor(() => traffic.seen().ok - traffic.seen().degraded > 50, 20_000, 'answers no longer degraded');
  const after = await traffic.stop();
  expect(after.failures).toEqual([]);
}, 120_000);
