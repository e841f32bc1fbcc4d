import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_KEY,
  freePort,
  freshDataDir,
  run,
  waitFor,
  waitReady,
  type Running,
} from './support/processes.js';
import { orderLife } from './support/order-life.js';
import { ensureTemplate } from './support/template.js';

/**
 * Webhooks of a real `etaserve start`: an endpoint registered through the admin API gets the order's late-risk alert
 * and stage changes, signed (Standard Webhooks), retried with backoff while it fails, and each exactly once after it
 * recovers, although the process was killed (SIGKILL) with deliveries pending. One that never succeeds ends in the
 * dead-letter list, and an operator sends it again.
 */

const AUTH = { authorization: `Bearer ${DEMO_KEY}` };
const MAX_ATTEMPTS = 6;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
  atMs: number;
}

const received: Received[] = [];
/** What each path answers now. */
const answers = new Map<string, number>();
let receiver: Server;
let receiverUrl: string;
let data: { dir: string; cleanup: () => void };
let port: number;
let proc: Running;
let url: string;

function start(): Promise<void> {
  proc = run(['start'], {
    ETASERVE_DATA_DIR: data.dir,
    ETASERVE_GATEWAY_PORT: String(port),
    ETASERVE_DEMO_API_KEY: DEMO_KEY,
    ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
    ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
    ETASERVE_EVENTS_POLL_MS: '20',
    ETASERVE_ORDERS_EVENT_CLOCK: 'true',
    ETASERVE_ORDERS_WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    ETASERVE_ORDERS_WEBHOOK_POLL_MS: '50',
    ETASERVE_ORDERS_WEBHOOK_BACKOFF_BASE_MS: '300',
    ETASERVE_ORDERS_WEBHOOK_BACKOFF_MAX_MS: '1000',
    ETASERVE_ORDERS_WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    ETASERVE_ORDERS_WEBHOOK_TIMEOUT_MS: '2000',
  });
  return waitReady(url, proc);
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? AUTH : { ...AUTH, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const { step, created } = orderLife('hook-1');

async function send(events: Array<Record<string, unknown>>): Promise<void> {
  const res = await api('POST', '/v1/events', events);
  expect(res.json).toMatchObject({ accepted: events.length, rejected: [] });
}

const byId = (path: string): Map<string, Received[]> => {
  const ids = new Map<string, Received[]>();
  for (const r of received.filter((x) => x.path === path)) {
    const id = String(r.headers['webhook-id']);
    ids.set(id, [...(ids.get(id) ?? []), r]);
  }
  return ids;
};

beforeAll(async () => {
  await ensureTemplate();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const answered = answers.get(req.url ?? '') ?? 404;
      received.push({ path: req.url ?? '', headers: req.headers, body, answered, atMs: Date.now() });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  data = freshDataDir();
  port = await freePort();
  url = `http://127.0.0.1:${port}`;
  await start();
}, 180_000);

afterAll(async () => {
  await proc?.stop();
  await new Promise((r) => receiver?.close(r));
  data?.cleanup();
});

describe('webhooks', () => {
  let secret: string;

  it('are delivered once each, signed, after failures and a killed process', async () => {
    answers.set('/a', 503);
    const registered = await api('POST', '/v1/admin/webhooks', {
      url: `${receiverUrl}/a`,
      events: ['order.late_risk', 'order.accepted', 'order.ready'],
      description: 'ops pager',
    });
    expect(registered.status).toBe(201);
    expect(registered.json.secret).toMatch(/^whsec_/);
    secret = registered.json.secret;
    const listed = await api('GET', '/v1/admin/webhooks');
    expect(listed.json.webhooks).toEqual([
      expect.objectContaining({
        id: registered.json.id,
        events: ['order.accepted', 'order.late_risk', 'order.ready'],
      }),
    ]);
    expect(JSON.stringify(listed.json)).not.toContain(secret);

    // Promised ten minutes after checkout for a half-hour order: late from the start.
    await send([
      created(0, 10, { customer_id: 'customer-7' }),
      step('order.accepted', 2),
      step('order.ready', 12),
    ]);
    // Failing attempts of every delivery, spaced by the backoff, then the process dies with all of them pending.
    await waitFor(
      () => byId('/a').size === 3 && [...byId('/a').values()].every((tries) => tries.length >= 2),
      20_000,
      'two failed attempts of each delivery',
    );
    const pending = await api('GET', '/v1/admin/webhooks/deliveries?status=pending');
    expect(pending.json.deliveries).toHaveLength(3);
    for (const d of pending.json.deliveries)
      expect(d).toMatchObject({ last_status: 503, last_error: 'answered 503' });
    await proc.stop('SIGKILL');
    const failedBefore = received.length;

    answers.set('/a', 200);
    await start();
    await waitFor(
      async () =>
        (await api('GET', '/v1/admin/webhooks/deliveries?status=delivered')).json.deliveries.length === 3,
      // A send in flight at the kill holds its lease (twice the timeout and 5 s) before it is taken again.
      60_000,
      'three delivered after the restart',
    );
    expect(received.length).toBeGreaterThan(failedBefore);

    const deliveries = byId('/a');
    expect(deliveries.size).toBe(3);
    const types: string[] = [];
    for (const [id, tries] of deliveries) {
      // Each exactly once with success, after its failures; the same id (the idempotency key) on every try.
      expect(
        tries.filter((t) => t.answered === 200),
        id,
      ).toHaveLength(1);
      expect(tries.at(-1)!.answered).toBe(200);
      for (let i = 1; i < tries.length - 1; i++)
        expect(
          tries[i]!.atMs - tries[i - 1]!.atMs,
          `${id} retried without backing off`,
        ).toBeGreaterThanOrEqual(140);
      const last = tries.at(-1)!;
      expect(last.headers['idempotency-key']).toBe(id);
      // The reference implementation of Standard Webhooks accepts it, and so does the scheme done by hand.
      const headers = {
        'webhook-id': id,
        'webhook-timestamp': String(last.headers['webhook-timestamp']),
        'webhook-signature': String(last.headers['webhook-signature']),
      };
      expect(() => new Webhook(secret).verify(last.body, headers)).not.toThrow();
      const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
      const mac = createHmac('sha256', key).update(`${id}.${headers['webhook-timestamp']}.${last.body}`);
      expect(headers['webhook-signature']).toBe(`v1,${mac.digest('base64')}`);
      expect(() => new Webhook(secret).verify(last.body.replace('hook-1', 'hook-2'), headers)).toThrow();
      const payload = JSON.parse(last.body);
      types.push(payload.type);
      expect(payload.data.order_id).toBe('hook-1');
      // Nothing personal leaves: no customer, destination or rider.
      expect(last.body).not.toMatch(/customer|destination|rider|48\.864/);
    }
    expect(types.sort()).toEqual(['order.accepted', 'order.late_risk', 'order.ready']);
    const alert = [...deliveries.values()]
      .map((t) => JSON.parse(t[0]!.body))
      .find((p) => p.type === 'order.late_risk');
    expect(alert.data).toMatchObject({ event_id: 'late-risk:hook-1:1', stage: expect.any(String) });
    expect(alert.data.p_late).toBeGreaterThanOrEqual(0.5);

    // The restart replayed the log: the same alert, not a second one, and nothing sent again.
    await new Promise((r) => setTimeout(r, 1500));
    expect(byId('/a').size).toBe(3);
  });

  it('dead-letters what never succeeds, and an operator sends it again', async () => {
    answers.set('/b', 500);
    const registered = await api('POST', '/v1/admin/webhooks', {
      url: `${receiverUrl}/b`,
      events: ['order.picked_up'],
    });
    expect(registered.status).toBe(201);
    await send([step('order.picked_up', 16, { rider_id: 'rider-3' })]);
    let dead: any[] = [];
    await waitFor(
      async () => {
        dead = (
          await api('GET', `/v1/admin/webhooks/deliveries?status=dead&webhook_id=${registered.json.id}`)
        ).json.deliveries;
        return dead.length === 1;
      },
      60_000,
      'the delivery in the dead-letter list',
    );
    expect(dead[0]).toMatchObject({
      attempts: MAX_ATTEMPTS,
      last_status: 500,
      event_type: 'order.picked_up',
    });
    const id = dead[0].id as string;
    expect(byId('/b').get(id)).toHaveLength(MAX_ATTEMPTS);

    answers.set('/b', 204);
    const retried = await api('POST', `/v1/admin/webhooks/deliveries/${encodeURIComponent(id)}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.json).toMatchObject({ status: 'pending', attempts: 0 });
    await waitFor(() => byId('/b').get(id)!.at(-1)!.answered === 204, 10_000, 'the redriven delivery');
    await waitFor(
      async () =>
        (await api('GET', `/v1/admin/webhooks/deliveries?webhook_id=${registered.json.id}`)).json
          .deliveries[0].status === 'delivered',
      5_000,
      'delivered',
    );
    expect((await api('POST', `/v1/admin/webhooks/deliveries/${encodeURIComponent(id)}/retry`)).status).toBe(
      409,
    );
    expect((await api('POST', '/v1/admin/webhooks/deliveries/nothing/retry')).status).toBe(404);

    // Deleted: nothing more is sent to it.
    expect((await api('DELETE', `/v1/admin/webhooks/${registered.json.id}`)).status).toBe(204);
    expect((await api('DELETE', `/v1/admin/webhooks/${registered.json.id}`)).status).toBe(404);
    const before = byId('/b').size;
    await send([step('order.picked_up', 17, { event_id: 'hook-1-picked-again', rider_id: 'rider-3' })]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(byId('/b').size).toBe(before);
  });

  it('refuses bad registrations with a clear error, and needs an admin key', async () => {
    const bad = await api('POST', '/v1/admin/webhooks', {
      url: 'ftp://x.example.com/',
      events: ['order.ready'],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({
      field: 'url',
      message: expect.stringContaining('only http and https'),
    });
    const unknownType = await api('POST', '/v1/admin/webhooks', {
      url: `${receiverUrl}/c`,
      events: ['order.eaten'],
    });
    expect(unknownType.status).toBe(400);
    const anonymous = await fetch(`${url}/v1/admin/webhooks`);
    expect(anonymous.status).toBe(401);
  });
});
