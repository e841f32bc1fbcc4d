import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, DEMO_KEY, ORDER, startInProcess, type InProcess } from './gateway-app.js';

describe('CORS', () => {
  let off: InProcess;
  let on: InProcess;

  beforeAll(async () => {
    [off, on] = await Promise.all([
      startInProcess(),
      startInProcess({ ETASERVE_GATEWAY_CORS_ORIGINS: 'https://shop.example' }),
    ]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([off?.stop(), on?.stop()]);
  });

  const preflight = (p: InProcess, origin: string) =>
    p.proc.app.inject({
      method: 'OPTIONS',
      url: '/v1/eta',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('is off by default: no browser on another origin may read an answer', async () => {
    const res = await off.proc.app.inject({
      method: 'POST',
      url: '/v1/eta',
      headers: { ...bearer(DEMO_KEY), origin: 'https://shop.example' },
      payload: ORDER,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(
      (await preflight(off, 'https://shop.example')).headers['access-control-allow-origin'],
    ).toBeUndefined();
  });

  it('allows only the configured origins', async () => {
    const ok = await preflight(on, 'https://shop.example');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(ok.headers['access-control-allow-headers']).toContain('authorization');
    const res = await on.proc.app.inject({
      method: 'POST',
      url: '/v1/eta',
      headers: { ...bearer(DEMO_KEY), origin: 'https://shop.example' },
      payload: ORDER,
    });
    expect(res.headers['access-control-allow-origin']).toBe('https://shop.example');
    const other = await preflight(on, 'https://evil.example');
    expect(other.statusCode).toBe(403);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
