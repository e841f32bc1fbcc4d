import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_KEY, ORDER, startInProcess, type InProcess } from './gateway-app.js';
import { sumOf } from './support/metrics.js';

const WARM_UP_REQUESTS = 600;
const AUTH = { authorization: `Bearer ${DEMO_KEY}` };

describe('gateway warm-up', () => {
  let started: InProcess | undefined;
  afterAll(async () => {
    await started?.stop();
  });

  it('sends itself real ETA requests over its listener before it turns ready, and none after', async () => {
    started = await startInProcess({ ETASERVE_GATEWAY_WARM_UP_REQUESTS: String(WARM_UP_REQUESTS) }, 'info');
    const { proc, logs, whileStarting } = started;

    // Readiness while it started: the listener opened, then the warm-up kept the process unready.
    const warming = whileStarting.readiness.filter((r) => r.reasons.includes('warm-up is starting'));
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

    // They went through the listener, as a client's requests do...
    const received = whileStarting.requests.filter((r) => r.startsWith('POST /v1/eta'));
    expect(received).toHaveLength(WARM_UP_REQUESTS);

    // ...but what reports traffic saw none of them: the routes' latency histograms and the console's hot stores.
    const served = async (): Promise<number> => {
      const metrics = await proc.app.inject({ method: 'GET', url: '/metrics' });
      return sumOf(metrics.body, 'etaserve_http_request_duration_seconds_count', (l) =>
        (l['route'] ?? '').startsWith('/v1/eta'),
      );
    };
    const traffic = async (): Promise<number> => {
      const res = await proc.app.inject({ method: 'GET', url: '/v1/admin/stores/traffic', headers: AUTH });
      expect(res.statusCode, res.body).toBe(200);
      return (res.json() as { total: number }).total;
    };
    expect(await served()).toBe(0);
    expect(await traffic()).toBe(0);

    // They looked up the response cache, as a client's requests do, but left nothing in it: their destinations and
    // hours are made up, and no client would ask for them.
    const responses = async (name: string): Promise<number> => {
      const metrics = await proc.app.inject({ method: 'GET', url: '/metrics' });
      return sumOf(metrics.body, name, (l) => l['cache'] === 'responses' && (l['level'] ?? 'l1') === 'l1');
    };
    expect(await responses('etaserve_cache_requests_total')).toBeGreaterThanOrEqual(WARM_UP_REQUESTS / 2);
    expect(await responses('etaserve_cache_l1_entries')).toBe(0);

    // A client's request after it counts in both.
    const res = await proc.app.inject({ method: 'POST', url: '/v1/eta', headers: AUTH, payload: ORDER });
    expect(res.statusCode, res.body).toBe(200);
    expect(await served()).toBe(1);
    expect(await traffic()).toBe(1);
    expect(await responses('etaserve_cache_l1_entries')).toBe(1);
  });
});
