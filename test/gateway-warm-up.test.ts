import { afterAll, describe, expect, it } from 'vitest';
import { startInProcess, type InProcess } from './gateway-app.js';
import { sumOf } from './support/metrics.js';

const WARM_UP_REQUESTS = 600;

describe('gateway warm-up', () => {
  let started: InProcess | undefined;
  afterAll(async () => {
    await started?.stop();
  });

  it('sends itself real ETA requests over its listener before it turns ready, and none after', async () => {
    started = await startInProcess({ ETASERVE_GATEWAY_WARM_UP_REQUESTS: String(WARM_UP_REQUESTS) }, 'info');
    const { proc, logs, whileStarting } = started;

    // Readiness while it started: the listener opened, then the warm-up kept the process unready.
    const warming = whileStarting.filter((r) => r.reasons.includes('warm-up is starting'));
    expect(warming.length).toBeGreaterThan(0);
    expect(warming.every((r) => !r.ready)).toBe(true);
    expect(proc.manager.readiness().ready).toBe(true);

    const line = logs()
      .split('\n')
      .find((l) => l.includes('gateway warmed up'));
    expect(line, logs().slice(-2000)).toBeDefined();
    const warmed = JSON.parse(line!) as { requests: number; refused: number; cut: boolean };
    expect(warmed).toMatchObject({ requests: WARM_UP_REQUESTS, cut: false });
    // Closed stores are refused (409), as they would be for anyone; most answer.
    expect(warmed.refused).toBeLessThan(WARM_UP_REQUESTS / 2);

    // They went through the listener and the whole stack: the route's own latency histogram counted them.
    const metrics = await proc.app.inject({ method: 'GET', url: '/metrics' });
    const served = sumOf(metrics.body, 'etaserve_http_request_duration_seconds_count', (l) =>
      (l['route'] ?? '').startsWith('/v1/eta'),
    );
    expect(served).toBe(WARM_UP_REQUESTS);
  });
});
