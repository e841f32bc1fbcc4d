import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freshDataDir, run, waitFor, waitReady, type Running } from './support/processes.js';
import { orderLife } from './support/order-life.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { ensureTemplate } from './support/template.js';

/**
 * The distributed shape of the order state: an `orders` process owns it, as a consumer of the log in Redis Streams,
 * and two gateways relay it. Both gateways answer the same ETA for an order, and a client whose gateway is stopped
 * (SIGTERM, a rolling restart) reconnects its stream to the other with Last-Event-ID and goes on from where it was.
 * Real processes of dist/, on one data directory as `etaserve up` runs them.
 */

const TOKEN = 'order-stream-failover-token-0123456789';
let redis: RedisServer | undefined;
let data: { dir: string; cleanup: () => void };
const running: Running[] = [];
let key = '';
const gateways: Array<{ url: string; proc: Running }> = [];

const { step, created } = orderLife('fo-1');

async function startTarget(target: string, portKey: string, env: Record<string, string>) {
  const port = await freePort();
  const proc = run(['start', '--target', target], {
    ETASERVE_DATA_DIR: data.dir,
    ETASERVE_TOPOLOGY_SHARED_DISK: 'true',
    ETASERVE_EVENTS_BACKEND: 'redis',
    ETASERVE_EVENTS_REDIS_URL: redis!.url,
    ETASERVE_EVENTS_REDIS_STREAM: 'order-failover',
    ETASERVE_EVENTS_POLL_MS: '20',
    ETASERVE_INTERNAL_TOKEN: TOKEN,
    ETASERVE_PIPELINE_SCHEDULE: '',
    ETASERVE_ORDERS_EVENT_CLOCK: 'true',
    [portKey]: String(port),
    ...env,
  });
  running.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, proc, 120_000);
  return { url, proc };
}

beforeAll(async () => {
  await ensureTemplate();
  redis = await startRedis();
  if (!redis) return;
  data = freshDataDir();
  const keys = run(['keys', 'create', '--name', 'failover', '--scopes', 'predict,events,admin'], {
    ETASERVE_DATA_DIR: data.dir,
  });
  await waitFor(() => keys.process.exitCode !== null, 60_000, 'etaserve keys create');
  key = /es_[a-z0-9]{8}_\S+/.exec(keys.output())![0];
  const orders = await startTarget('orders', 'ETASERVE_ORDERS_PORT', {});
  for (let i = 0; i < 2; i++)
    gateways.push(
      await startTarget('gateway', 'ETASERVE_GATEWAY_PORT', { ETASERVE_TOPOLOGY_ORDERS_URL: orders.url }),
    );
}, 300_000);

afterAll(async () => {
  for (const p of running.reverse()) await p.stop();
  await redis?.stop();
  data?.cleanup();
});

const auth = (): Record<string, string> => ({ authorization: `Bearer ${key}` });

async function eta(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/v1/orders/fo-1/eta`, { headers: auth() });
  return { status: res.status, body: await res.json() };
}

interface Message {
  id: string;
  body: { stage: string; eta_at: string; model_version: string };
}

/** Reads one SSE stream into `messages` until it ends; resolves then. */
async function follow(url: string, messages: Message[], lastEventId?: string): Promise<void> {
  const res = await fetch(`${url}/v1/orders/fo-1/eta/stream`, {
    headers: { ...auth(), ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
  });
  expect(res.status).toBe(200);
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (id && data) messages.push({ id, body: JSON.parse(data) });
      }
    }
  } catch {
    // The gateway went away mid-stream: the caller reconnects.
  }
}

async function post(url: string, events: Array<Record<string, unknown>>): Promise<void> {
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  expect(await res.json()).toMatchObject({ accepted: events.length, rejected: [] });
}

describe('order state in its own process, behind two gateways', () => {
  it('answers the same at both gateways, and a stream goes on through the other when one stops', async (t) => {
    if (!redis) return t.skip();
    const [one, two] = gateways as [(typeof gateways)[0], (typeof gateways)[0]];
    await post(one.url, [created(0, 35), step('order.accepted', 2)]);
    await waitFor(
      async () => (await eta(two.url)).body.stage === 'accepted',
      20_000,
      'the order at gateway two',
    );
    const [a, b] = [await eta(one.url), await eta(two.url)];
    expect(a.status).toBe(200);
    expect(b.body).toMatchObject({
      stage: 'accepted',
      eta_at: a.body.eta_at,
      model_version: a.body.model_version,
    });

    const messages: Message[] = [];
    const first = follow(one.url, messages);
    await waitFor(() => messages.length >= 1, 10_000, 'the first message at gateway one');
    expect(messages[0]!.body.stage).toBe('accepted');
    await post(one.url, [step('order.ready', 13)]);
    await waitFor(() => messages.some((m) => m.body.stage === 'ready'), 10_000, 'ready through gateway one');

    // Gateway one goes (a rolling restart): its stream ends, the client comes back at gateway two.
    await one.proc.stop();
    await first;
    const seen = messages.length;
    const lastId = messages.at(-1)!.id;
    const second = follow(two.url, messages, lastId);
    await waitFor(() => messages.length > seen, 10_000, 'the current answer at gateway two');
    // The current answer first, not older than the last one seen: the order state did not restart.
    expect(messages[seen]!.body.stage).toBe('ready');
    expect(Number(messages[seen]!.id)).toBeGreaterThanOrEqual(Number(lastId));
    await post(two.url, [step('order.picked_up', 16, { rider_id: 'rider-4' })]);
    await post(two.url, [step('order.delivered', 27, { rider_id: 'rider-4' })]);
    await second;
    expect(messages.map((m) => m.body.stage).slice(seen)).toEqual(
      expect.arrayContaining(['ready', 'picked_up', 'delivered']),
    );
    expect(messages.at(-1)!.body.stage).toBe('delivered');
  }, 120_000);
});
