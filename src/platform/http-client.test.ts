import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cancellation } from './cancellation.js';
import { EtaError, isEtaError } from './errors.js';
import { HttpClient } from './http-client.js';
import { createHttpServer, type HttpServer } from './http-server.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { DEFAULT_BREAKER } from './resilience/breaker.js';

const failure = async (p: Promise<unknown>): Promise<EtaError> => {
  try {
    await p;
  } catch (e) {
    if (isEtaError(e)) return e;
    throw e;
  }
  throw new Error('expected a failure');
};

const server = (): HttpServer =>
  createHttpServer({
    name: 'test',
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics(),
    readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
  });

/** A remote that echoes the trace headers it got, answers slowly on demand, and fails with a typed error. */
describe('HttpClient', () => {
  let remote: HttpServer;
  let front: HttpServer;
  let client: HttpClient;
  let frontUrl: string;

  beforeAll(async () => {
    remote = server();
    remote.post('/echo', async (req) => ({
      body: req.body,
      traceparent: req.headers.traceparent ?? null,
      requestId: req.headers['x-request-id'] ?? null,
    }));
    remote.get('/slow', async () => {
      await new Promise((r) => setTimeout(r, 300));
      return { late: true };
    });
    remote.get('/missing', async () => {
      throw new EtaError('store_not_found', 'store s-1 does not exist', { field: 'store_id' });
    });
    const remoteUrl = await remote.listen({ port: 0, host: '127.0.0.1' });
    client = new HttpClient({ name: 'remote', baseUrl: remoteUrl, timeoutMs: 2000 });

    // A service in front that calls the remote from its handler, before and after an await.
    front = server();
    front.get('/relay', async () => {
      const first = await client.request<{ traceparent: string; requestId: string }>('POST', '/echo', {});
      await new Promise((r) => setTimeout(r, 5));
      const later = await client.request<{ traceparent: string | null }>('POST', '/echo', {});
      return { first, later };
    });
    frontUrl = await front.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await client.close();
    await front.close();
    await remote.close();
  });

  it('sends JSON and reads JSON', async () => {
    const res = await client.request<{ body: unknown }>('POST', '/echo', { a: 1, b: ['x'] });
    expect(res.body).toEqual({ a: 1, b: ['x'] });
  });

  it('passes on the trace of the request being served, and a new span for the call', async () => {
    const trace = '0af7651916cd43dd8448eb211c80319c';
    const res = await fetch(`${frontUrl}/relay`, {
      headers: { traceparent: `00-${trace}-b7ad6b7169203331-01`, 'x-request-id': 'checkout-42' },
    });
    expect(res.headers.get('x-request-id')).toBe('checkout-42');
    const { first, later } = (await res.json()) as {
      first: { traceparent: string; requestId: string };
      later: { traceparent: string | null };
    };
    expect(first.traceparent).toMatch(new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`));
    expect(first.traceparent).not.toContain('b7ad6b7169203331');
    expect(first.requestId).toBe('checkout-42');
    // After an await the handler's context is no longer current: no trace rather than another request's.
    expect(later.traceparent === null || later.traceparent.includes(trace)).toBe(true);
  });

  it('sends no trace from outside a request', async () => {
    const res = await client.request<{ traceparent: string | null }>('POST', '/echo', {});
    expect(res.traceparent).toBeNull();
  });

  it('keeps a remote error code and field', async () => {
    const e = await failure(client.request('GET', '/missing'));
    expect(e.code).toBe('store_not_found');
    expect(e.field).toBe('store_id');
  });

  it('gives up at its deadline with deadline_exceeded', async () => {
    const e = await failure(client.request('GET', '/slow', undefined, { timeoutMs: 50 }));
    expect(e.code).toBe('deadline_exceeded');
    expect(e.message).toContain('did not answer within 50 ms');
  });

  it('stops when the caller aborts, with the caller’s reason', async () => {
    const cancel = new Cancellation();
    setTimeout(() => cancel.abort(new Error('hedge lost')), 30);
    const e = await failure(client.request('GET', '/slow', undefined, { signal: cancel.signal }));
    expect(e.code).toBe('upstream_unavailable');
    expect(e.message).toContain('hedge lost');
    // A DOM AbortSignal works too.
    const e2 = await failure(client.request('GET', '/slow', undefined, { signal: AbortSignal.timeout(30) }));
    expect(e2.code).toBe('upstream_unavailable');
  });

  it('reports an unreachable remote as upstream_unavailable', async () => {
    const nowhere = new HttpClient({ name: 'nowhere', baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000 });
    const e = await failure(nowhere.request('GET', '/'));
    expect(e.code).toBe('upstream_unavailable');
    expect(e.message).toContain('nowhere is unreachable');
    await nowhere.close();
  });
});

describe('HttpClient with a circuit breaker', () => {
  let remote: HttpServer;
  let url = '';
  let calls = 0;
  let failing = true;

  beforeAll(async () => {
    remote = server();
    remote.get('/flaky', async (_req, reply) => {
      calls++;
      return failing ? reply.code(503).send({ error: { code: 'unavailable' } }) : { ok: true };
    });
    remote.get('/missing', async () => {
      calls++;
      throw new EtaError('store_not_found', 'no such store', { field: 'store_id' });
    });
    url = await remote.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => remote.close());

  it('fails at once while the remote keeps failing, then lets one probe decide', async () => {
    const states: string[] = [];
    const client = new HttpClient({
      name: 'store',
      baseUrl: url,
      timeoutMs: 1000,
      breaker: { consecutiveFailures: 3, failureRatio: 1, minCalls: 1000, windowMs: 10_000, openMs: 200 },
      onBreakerChange: (s) => states.push(s),
    });
    try {
      // A 4xx is a healthy remote: it never opens the breaker.
      for (let i = 0; i < 5; i++)
        expect((await failure(client.request('GET', '/missing'))).code).toBe('store_not_found');
      expect(client.breakerState).toBe('closed');

      calls = 0;
      for (let i = 0; i < 3; i++)
        expect((await failure(client.request('GET', '/flaky'))).code).toBe('upstream_unavailable');
      expect(client.breakerState).toBe('open');
      // Open: refused here, the remote never sees the call.
      const refused = await failure(client.request('GET', '/flaky'));
      expect(refused.message).toMatch(/circuit breaker open/);
      expect(calls).toBe(3);

      // After openMs one probe goes through; the remote has recovered, so the breaker closes.
      failing = false;
      await new Promise((r) => setTimeout(r, 250));
      expect(await client.request('GET', '/flaky')).toEqual({ ok: true });
      expect(client.breakerState).toBe('closed');
      expect(calls).toBe(4);
      expect(states).toEqual(['open', 'half-open', 'closed']);
    } finally {
      await client.close();
    }
  });
});

/**
 * A process whose event loop was held up (a long collection, a long task) past a call's deadline, while the answer
 * came in: the answer is read before the deadline is judged, so the call succeeds and the breaker hears no failure.
 * The remote runs in another process and answers after 30 ms, while this one is blocked.
 */
describe('HttpClient after a held-up event loop', () => {
  let remote: ChildProcess;
  let url: string;

  beforeAll(async () => {
    remote = spawn(
      process.execPath,
      [
        '-e',
        `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => setTimeout(() => s.end('{"ok":true}'), 30)); })
           .listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n'); });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [line] = (await once(remote.stdout!, 'data')) as [Buffer];
    url = `http://127.0.0.1:${line.toString().trim()}`;
  });

  afterAll(() => {
    remote.kill('SIGKILL');
  });

  it('answers with what arrived rather than a deadline', async () => {
    const client = new HttpClient({
      name: 'remote',
      baseUrl: url,
      // Room for the first call on a busy machine (the remote answers 30 ms after the request), well within the
      // 800 ms the event loop is held below.
      timeoutMs: 300,
      breaker: { ...DEFAULT_BREAKER, consecutiveFailures: 1 },
    });
    // The connection is open and the path warm.
    expect(await client.request('GET', '/')).toEqual({ ok: true });
    const call = client.request('GET', '/');
    // Once the request is out (and answered at the remote), this process is blocked well past the deadline, in the
    // turn's last phase: the next turn runs the due deadline timer before it reads the answer.
    await new Promise((r) => setTimeout(r, 10));
    await new Promise<void>((r) =>
      setImmediate(() => {
        const until = performance.now() + 800;
        while (performance.now() < until);
        r();
      }),
    );
    expect(await call).toEqual({ ok: true });
    expect(client.breakerState).toBe('closed');
  });
});
