import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Admission } from '../src/gateway/admission.js';
import {
  createHttpServer,
  createLogger,
  createMetrics,
  EtaError,
  type HttpServer,
} from '../src/platform/index.js';

/**
 * Overload: a process holds at most `maxInFlight` requests. Past it a request is refused at once with 503 and
 * Retry-After; list-page batches are refused first; health, readiness and metrics keep answering.
 */
let app: HttpServer;
let admission: Admission;
/** Requests that passed the stand-in authentication. */
let authorized = 0;
let release: () => void;
const held = new Promise<void>((resolve) => (release = resolve));
let releaseSecond: () => void;
const heldSecond = new Promise<void>((resolve) => (releaseSecond = resolve));

beforeAll(async () => {
  app = createHttpServer({
    name: 'admission-test',
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ target: 'test' }),
    readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
    admission: (admission = new Admission({ maxInFlight: 4, batchMaxInFlight: 2 })),
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
  app.post('/v1/hold', async () => {
    await heldSecond;
    return { ok: true };
  });
  // A stand-in for a keyed route: authentication is the route's own onRequest hook, as in the gateway.
  app.post(
    '/v1/keyed',
    {
      onRequest: async (req) => {
        if (req.headers.authorization !== 'Bearer ok')
          throw new EtaError('unauthorized', 'a key is required');
        authorized++;
      },
    },
    async () => ({ ok: true }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
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

it('counts neither requests without a key nor requests whose body has not arrived', async () => {
  // While full: a request without a key is told 401, not 503 — authentication comes before admission.
  const full = Array.from({ length: 4 }, () => app.inject({ method: 'POST', url: '/v1/hold', payload: {} }));
  await new Promise((r) => setTimeout(r, 20));
  expect(admission.current).toBe(4);
  const anonymous = await app.inject({ method: 'POST', url: '/v1/keyed', payload: {} });
  expect(anonymous.statusCode).toBe(401);
  const keyed = await app.inject({
    method: 'POST',
    url: '/v1/keyed',
    headers: { authorization: 'Bearer ok' },
    payload: {},
  });
  expect(keyed.statusCode).toBe(503);
  releaseSecond();
  expect((await Promise.all(full)).map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);

  // Headers sent, body never: once past authentication, the request holds a socket, not a slot.
  const before = authorized;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const stalled = Array.from({ length: 8 }, () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(
      'POST /v1/keyed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\n' +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n',
    );
    return socket;
  });
  await new Promise<void>((resolve) => {
    const poll = (): void => void (authorized - before >= stalled.length ? resolve() : setTimeout(poll, 10));
    poll();
  });
  expect(admission.current).toBe(0);
  const served = await app.inject({
    method: 'POST',
    url: '/v1/keyed',
    headers: { authorization: 'Bearer ok' },
    payload: {},
  });
  expect(served.statusCode).toBe(200);
  for (const socket of stalled) socket.destroy();
});
