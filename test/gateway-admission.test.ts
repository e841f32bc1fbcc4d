import { afterAll, beforeAll, expect, it } from 'vitest';
import { Admission } from '../src/gateway/admission.js';
import { createHttpServer, createLogger, createMetrics, type HttpServer } from '../src/platform/index.js';

/**
 * Overload: a process holds at most `maxInFlight` requests. Past it a request is refused at once with 503 and
 * Retry-After; list-page batches are refused first; health, readiness and metrics keep answering.
 */
let app: HttpServer;
let release: () => void;
const held = new Promise<void>((resolve) => (release = resolve));

beforeAll(async () => {
  app = createHttpServer({
    name: 'admission-test',
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ target: 'test' }),
    readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
    admission: new Admission({ maxInFlight: 4, batchMaxInFlight: 2 }),
  });
  // Stand-ins for the ETA routes that hold their request until released: a stalled predictor.
  app.post('/v1/eta', async () => {
    await held;
    return { ok: true };
  });
  app.post('/v1/eta/batch', async () => {
    await held;
    return { ok: true };
  });
  await app.ready();
});

afterAll(() => app.close());

it('sheds list pages first, then checkout ETAs, with a fast 503 and Retry-After; probes still answer', async () => {
  const post = (url: string) => app.inject({ method: 'POST', url, payload: {} });
  const first = [post('/v1/eta'), post('/v1/eta')];
  await new Promise((r) => setTimeout(r, 20));
  // Two in flight: batches are at their bound already, checkout ETAs are not.
  const batch = await post('/v1/eta/batch');
  expect(batch.statusCode).toBe(503);
  expect(batch.headers['retry-after']).toBe('1');
  expect(batch.json()).toMatchObject({ error: { code: 'overloaded' } });
  const more = [post('/v1/eta'), post('/v1/eta')];
  await new Promise((r) => setTimeout(r, 20));
  const shed = await post('/v1/eta');
  expect(shed.statusCode).toBe(503);
  for (const probe of ['/healthz', '/readyz', '/metrics']) {
    expect((await app.inject({ method: 'GET', url: probe })).statusCode).toBe(200);
  }
  release();
  const answered = await Promise.all([...first, ...more]);
  expect(answered.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
  // Capacity is given back once they are answered.
  expect((await post('/v1/eta/batch')).statusCode).toBe(200);
});
