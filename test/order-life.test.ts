import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeProcess, type ComposedProcess } from '../src/app/compose.js';
import { loadAppConfig } from '../src/app/config.js';
import { prepareFirstRun } from '../src/app/first-run.js';
import { createLogger } from '../src/platform/index.js';
import { DEMO_KEY, freshDataDir } from './support/processes.js';
import { orderLife } from './support/order-life.js';
import { ensureTemplate } from './support/template.js';

/**
 * One order through every stage with real events, through the public API of an embedded process: each answer, the
 * stream, and the order state rebuilt from the log by a restart.
 */

const AUTH = { authorization: `Bearer ${DEMO_KEY}` };
let data: { dir: string; cleanup: () => void };
let proc: ComposedProcess;

async function start(): Promise<ComposedProcess> {
  const config = loadAppConfig({
    env: {
      ETASERVE_DATA_DIR: data.dir,
      ETASERVE_DEMO_API_KEY: DEMO_KEY,
      ETASERVE_GATEWAY_PORT: '0',
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
      ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
      ETASERVE_EVENTS_POLL_MS: '20',
      // The order lives tomorrow evening, on its own clock: each answer is computed at its event's time, with the
      // stores open and at an hour the models learnt, whatever the hour the test runs.
      ETASERVE_ORDERS_EVENT_CLOCK: 'true',
    },
  });
  await prepareFirstRun(config, { trainModel: true, seedStores: true }, { log: () => undefined });
  const composed = await composeProcess(config, ['all'], createLogger({ level: 'silent' }));
  await composed.manager.startAll();
  return composed;
}

async function send(events: Array<Record<string, unknown>>): Promise<void> {
  const res = await proc.app.inject({ method: 'POST', url: '/v1/events', headers: AUTH, payload: events });
  expect(res.json()).toMatchObject({ accepted: events.length, rejected: [] });
}

interface Answer {
  stage: string;
  degraded: boolean;
  legs: Record<string, number>;
  model_version: string;
  eta_at: string;
  eta_seconds_remaining: number;
  range_at: [string, string];
  promised_at: string;
  p_late: number;
  updated_at: string;
}

/** The order's answer once `ready` holds (the log is read every 20 ms). */
async function answerWhen(ready: (answer: Answer) => boolean, what: string): Promise<Answer> {
  for (let i = 0; i < 200; i++) {
    const res = await proc.app.inject({ method: 'GET', url: '/v1/orders/life-1/eta', headers: AUTH });
    if (res.statusCode === 200 && ready(res.json() as Answer)) return res.json() as Answer;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the order never reached ${what}`);
}

const answerAt = (stage: string): Promise<Answer> => answerWhen((a) => a.stage === stage, stage);

interface Listed extends Answer {
  order_id: string;
  position: { lat: number; lng: number; source: 'rider' | 'store' } | null;
  destination: { lat: number; lng: number } | null;
}

/** The order as the admin list (the console's list and map) shows it, once `ready` says it should be. */
async function listedWhen(ready: (order: Listed) => boolean): Promise<Listed> {
  let last: Listed | undefined;
  for (let i = 0; i < 200; i++) {
    const res = await proc.app.inject({ method: 'GET', url: '/v1/admin/orders?limit=500', headers: AUTH });
    expect(res.statusCode).toBe(200);
    last = (res.json() as { orders: Listed[] }).orders.find((o) => o.order_id === 'life-1');
    if (last && ready(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the admin list never showed life-1 as expected: ${JSON.stringify(last)}`);
}

const { at, step, created } = orderLife('life-1');

beforeAll(async () => {
  await ensureTemplate();
  data = freshDataDir();
  proc = await start();
}, 120_000);

afterAll(async () => {
  await proc?.manager.stopAll();
  data?.cleanup();
});

describe("an order's life through the API", () => {
  it('answers 404 for an order nobody created', async () => {
    const res = await proc.app.inject({ method: 'GET', url: '/v1/orders/nobody/eta', headers: AUTH });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'order_not_found' } });
  });

  it('follows the order stage by stage, with a shrinking remaining time and P(late) in [0, 1]', async () => {
    await send([created(0, 35)]);
    const first = await answerAt('created');
    expect(first.promised_at).toMatch(/[+-]\d\d:\d\d$/);
    // The champion's order legs answer (trained with it), not the quote alone: every leg is still ahead.
    expect(first.degraded).toBe(false);
    expect(Object.keys(first.legs).sort()).toEqual(['pickup', 'prep', 'ride']);
    const answers = [first];
    for (const [type, stage, minutes] of [
      ['order.accepted', 'accepted', 2],
      ['order.rider_assigned', 'accepted', 3],
      ['order.ready', 'ready', 14],
      ['order.picked_up', 'picked_up', 18],
    ] as const) {
      await send([step(type, minutes, { rider_id: 'rider-9' })]);
      const answer = await answerAt(stage);
      expect(answer.p_late).toBeGreaterThanOrEqual(0);
      expect(answer.p_late).toBeLessThanOrEqual(1);
      expect(Date.parse(answer.range_at[0])).toBeLessThanOrEqual(Date.parse(answer.eta_at));
      expect(Date.parse(answer.eta_at)).toBeLessThanOrEqual(Date.parse(answer.range_at[1]));
      expect(answer.degraded).toBe(false);
      answers.push(answer);
      if (stage === 'accepted') {
        // The admin list places the order at its store while the food is there, and names its destination.
        const store = (
          await proc.app.inject({ method: 'GET', url: '/v1/stores/s-0001', headers: AUTH })
        ).json() as { location: { lat: number; lng: number } };
        const listed = await listedWhen((o) => o.stage === 'accepted' && o.position !== null);
        expect(listed.position).toEqual({ ...store.location, source: 'store' });
        expect(listed.destination).toEqual({ lat: 48.864, lng: 2.352 });
        expect(listed.p_late).toBeGreaterThanOrEqual(0);
      }
    }
    // Picked up: the order moves with its rider's latest position.
    await send([
      {
        event_id: 'life-1-ping',
        type: 'rider.location',
        occurred_at: at(19),
        rider_id: 'rider-9',
        lat: 48.862,
        lng: 2.349,
      },
    ]);
    const moving = await listedWhen((o) => o.position?.source === 'rider');
    expect(moving).toMatchObject({
      stage: 'picked_up',
      position: { lat: 48.862, lng: 2.349, source: 'rider' },
    });
    expect(moving.destination).toEqual({ lat: 48.864, lng: 2.352 });

    // The rider stalls where they are: minutes pass (on the events' clock) and the promise at 35 comes closer.
    const moved = await answerWhen((a) => Date.parse(a.updated_at) >= Date.parse(at(19)), 'the ping at 19');
    for (const minutes of [27, 33])
      await send([
        {
          event_id: `life-1-stall-${minutes}`,
          type: 'rider.location',
          occurred_at: at(minutes),
          rider_id: 'rider-9',
          lat: 48.862,
          lng: 2.349,
        },
      ]);
    const stalled = await answerWhen((a) => Date.parse(a.updated_at) >= Date.parse(at(33)), 'the ping at 33');
    expect(stalled.stage).toBe('picked_up');
    expect(stalled.p_late).toBeGreaterThan(moved.p_late);
    expect(stalled.p_late).toBeLessThanOrEqual(1);
    expect(Object.keys(answers.at(-1)!.legs)).toEqual(['ride']);
    for (let i = 1; i < answers.length; i++)
      expect(answers[i]!.eta_seconds_remaining).toBeLessThanOrEqual(answers[i - 1]!.eta_seconds_remaining);
  });

  it('streams each update as a Server-Sent Event, and ends the stream at delivery', async () => {
    const { port } = proc.app.server.address() as { port: number };
    const address = `http://127.0.0.1:${port}`;
    const res = await fetch(`${address}/v1/orders/life-1/eta/stream`, { headers: AUTH });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const messages: Answer[] = [];
    let buffer = '';
    const read = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += new TextDecoder().decode(value);
        for (const block of buffer.split('\n\n').slice(0, -1)) {
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) messages.push(JSON.parse(data.slice(6)) as Answer);
        }
        buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
      }
    })();
    while (messages.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(messages[0]!.stage).toBe('picked_up');
    await send([step('order.delivered', 28, { rider_id: 'rider-9' })]);
    await read;
    expect(messages.at(-1)).toMatchObject({ stage: 'delivered', eta_seconds_remaining: 0 });
  });

  it('rebuilds the order from the log after a restart', async () => {
    const before = await answerAt('delivered');
    await proc.manager.stopAll();
    proc = await start();
    const after = await answerAt('delivered');
    expect(after.eta_at).toBe(before.eta_at);
    expect(after.promised_at).toBe(before.promised_at);
  });
});
