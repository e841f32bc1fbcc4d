import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, waitFor, type Platform } from './support/processes.js';
import { ensureTemplate } from './support/template.js';
import { childUrl, kill9 } from './fault-traffic.js';

/**
 * A gateway with no predictor left can still answer (fallback ETAs): /readyz says 200 "degraded" with the reasons,
 * and "ready" again once a predictor is back. One predictor is killed (startCluster's `up` waits minutes before
 * restarting it), the other frozen with SIGSTOP and thawed.
 */
let cluster: Platform;

beforeAll(async () => {
  await ensureTemplate();
  cluster = await startCluster(2);
}, 180_000);

afterAll(async () => {
  const frozen = cluster?.pids.get('predictor-2');
  if (frozen) process.kill(frozen, 'SIGCONT');
  await cluster?.stop();
}, 60_000);

async function readyz(): Promise<{
  code: number;
  body: { status: string; ready: boolean; reasons: string[] };
}> {
  const res = await fetch(`${cluster.url}/readyz`, { signal: AbortSignal.timeout(5000) });
  return {
    code: res.status,
    body: (await res.json()) as { status: string; ready: boolean; reasons: string[] },
  };
}

it('answers 200 "degraded" naming the predictors while none is up, and "ready" when one is back', async () => {
  expect((await readyz()).body.status).toBe('ready');
  const p1 = childUrl(cluster.running.output(), 'predictor-1');
  const p2 = childUrl(cluster.running.output(), 'predictor-2');

  kill9(cluster.pids.get('predictor-1'));
  process.kill(cluster.pids.get('predictor-2')!, 'SIGSTOP');
  let seen = await readyz();
  await waitFor(
    async () => {
      seen = await readyz();
      return seen.body.status === 'degraded';
    },
    60_000,
    '/readyz degraded',
  );
  expect(seen.code).toBe(200);
  expect(seen.body.ready).toBe(true);
  const reason = seen.body.reasons.join('\n');
  expect(reason).toContain('no predictor replica is up');
  expect(reason).toContain(`${p1}: unreachable`);
  expect(reason).toContain(p2);

  process.kill(cluster.pids.get('predictor-2')!, 'SIGCONT');
  await waitFor(async () => (await readyz()).body.status === 'ready', 60_000, '/readyz ready again');
  const back = await readyz();
  expect(back.code).toBe(200);
  expect(back.body.reasons).toEqual([]);
}, 180_000);
