import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, waitFor, type Platform } from './support/processes.js';
import { ensureTemplate } from './support/template.js';
import { kill9, steadyTraffic } from './fault-traffic.js';

let cluster: Platform;

beforeAll(async () => {
  await ensureTemplate();
  // One predictor, so the answers are real predictions only once the killed one is back.
  cluster = await startCluster(1, {
    ETASERVE_GATEWAY_RESPONSE_CACHE: 'false',
    ETASERVE_UP_RESTART_DELAY_MS: '500',
  });
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

it('restarts a killed module, logs and counts the restart, and it serves again', async () => {
  const killed = cluster.pids.get('predictor-1');
  kill9(killed);
  await waitFor(
    () => /predictor-1 restarted \(pid \d+\)/.test(cluster.running.output()),
    60_000,
    'the restart',
  );
  const out = cluster.running.output();
  expect(out).toMatch(
    /predictor-1 exited \(signal SIGKILL\) after [\d.]+ s; restart attempt 1 in 0\.5 s \(etaserve_up_restarts_total 1\)/,
  );
  const pid = Number(/predictor-1 restarted \(pid (\d+)\)/.exec(out)![1]);
  expect(pid).not.toBe(killed);

  // Real predictions (not fallbacks) through the gateway: the new process serves.
  const traffic = steadyTraffic(cluster.url);
  try {
    await waitFor(
      () => {
        const seen = traffic.seen();
        return seen.ok - seen.degraded >= 10;
      },
      90_000,
      'real predictions from the restarted predictor',
    );
  } finally {
    await traffic.stop();
  }
}, 180_000);
