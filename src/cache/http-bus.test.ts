import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createHttpServer,
  createLogger,
  createMetrics,
  HttpClient,
  type HttpServer,
} from '../platform/index.js';
import { waitFor } from '../../test/support/processes.js';
import { HttpInvalidationBus, invalidationHubRoutes } from './http-bus.js';
import { LocalInvalidationBus, type InvalidationEvent } from './invalidation.js';

const logger = createLogger({ level: 'silent' });
const HEARTBEAT_MS = 100;

async function startHub(hub: LocalInvalidationBus, port = 0): Promise<{ app: HttpServer; url: string }> {
  const app = createHttpServer({
    name: 'store',
    logger,
    metrics: createMetrics(),
    readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
  });
  await app.register(invalidationHubRoutes(hub, { heartbeatMs: HEARTBEAT_MS }));
  const url = await app.listen({ port, host: '127.0.0.1' });
  return { app, url };
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function follower(url: string): Promise<{ bus: HttpInvalidationBus; events: InvalidationEvent[] }> {
  const client = new HttpClient({ name: 'store', baseUrl: url, timeoutMs: 2000 });
  const bus = new HttpInvalidationBus({
    hubUrl: url,
    client,
    internalToken: undefined,
    logger,
    heartbeatMs: HEARTBEAT_MS,
  });
  const events: InvalidationEvent[] = [];
  bus.subscribe((e) => events.push(e));
  await bus.start();
  cleanups.push(async () => {
    await bus.close();
    await client.close();
  });
  return { bus, events };
}

describe('the invalidation bus over HTTP (no Redis)', () => {
  it('carries the store process’s invalidations and generations to every follower, and theirs back', async () => {
    const hub = new LocalInvalidationBus();
    await hub.advance(['s-1', 's-1', 's-2']);
    const { app, url } = await startHub(hub);
    cleanups.push(() => app.close());
    const a = await follower(url);
    const b = await follower(url);

    // What the hub had before they came is learned from the first line.
    expect([a.bus.generation('s-1'), a.bus.generation('s-2'), a.bus.generation('s-3')]).toEqual([2, 1, 0]);

    await hub.publish('store-live', ['k1', 'k2']);
    await hub.advance(['s-3']);
    await waitFor(() => b.bus.generation('s-3') === 1, 5000, 'the hub’s advance to reach a follower');
    expect(b.events).toContainEqual({ type: 'invalidate', cache: 'store-live', keys: ['k1', 'k2'] });

    // A follower's own advance (a predictor's new champion) and invalidation reach the others through the hub.
    expect(await a.bus.advance(['*models'])).toBe(true);
    expect(a.bus.generation('*models')).toBe(1);
    expect(await a.bus.publish('responses', ['r1'])).toBe(true);
    await waitFor(() => b.bus.generation('*models') === 1, 5000, 'a follower’s advance to reach the other');
    await waitFor(
      () => b.events.some((e) => e.type === 'invalidate' && e.keys.includes('r1')),
      5000,
      'a follower’s invalidation to reach the other',
    );
    expect(hub.generation('*models')).toBe(1);
  });

  it('drops L1 when the store process is gone, trusts nothing meanwhile, and relearns generations once back', async () => {
    const hub = new LocalInvalidationBus();
    await hub.advance(['s-1']);
    const first = await startHub(hub);
    const port = Number(new URL(first.url).port);
    const f = await follower(first.url);
    expect(f.bus.generation('s-1')).toBe(1);
    const resyncsAtStart = f.events.filter((e) => e.type === 'resync').length;

    await first.app.close();
    await waitFor(
      () => f.bus.generation('s-1') === undefined,
      5000,
      'the follower to stop trusting generations',
    );
    expect(await f.bus.advance(['s-1'])).toBe(false);
    // Without the store process nothing cached of stores can be kept right: L1 is dropped at once.
    expect(f.events.filter((e) => e.type === 'resync').length).toBe(resyncsAtStart + 1);

    // A restarted store process starts its generations anew; changes made meanwhile were never heard.
    const restarted = new LocalInvalidationBus();
    await restarted.advance(['s-2']);
    const second = await startHub(restarted, port);
    cleanups.push(() => second.app.close());
    await waitFor(() => f.bus.generation('s-2') === 1, 5000, 'the follower to reconnect and resync');
    expect(f.bus.generation('s-1')).toBe(0);
    expect(f.events.filter((e) => e.type === 'resync').length).toBe(resyncsAtStart + 2);
  });

  it('takes a store process that stops answering for dead, without waiting for its socket to close', async () => {
    // A real process, stopped with SIGSTOP: its sockets stay open, it just says nothing more.
    const hub = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/support/bus-hub.ts', String(HEARTBEAT_MS)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    cleanups.push(async () => {
      hub.kill('SIGCONT');
      hub.kill('SIGKILL');
      await once(hub, 'exit');
    });
    const [line] = (await once(createInterface({ input: hub.stdout! }), 'line')) as [string];
    const f = await follower(line.trim());
    expect(f.bus.generation('s-1')).toBe(1);

    hub.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor(() => f.bus.generation('s-1') === undefined, 5000, 'the silent hub to be taken for dead');
    // Three heartbeats of silence, not a TCP timeout.
    expect(Date.now() - stoppedAt).toBeLessThan(HEARTBEAT_MS * 3 + 2000);

    hub.kill('SIGCONT');
    await waitFor(() => f.bus.generation('s-1') === 1, 5000, 'the follower to hear the hub again');
  });
});
