import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEY, postJson, startAll, startCluster, waitFor, type Platform } from './support/processes.js';
import { ensureTemplate } from './support/template.js';
import { nextLocalMs } from './support/times.js';

/**
 * Order events sent to POST /v1/events reach the store's live state through the log, in both shapes (in the
 * cluster the store process tails the gateway's log files): the prep component of a new ETA follows the kitchen.
 */
const STORE = 's-0001';
const destination = { lat: 48.8566, lng: 2.3522 };
/**
 * An hour when the store is open, one to two days ago: the events before it are within the log's retention, and
 * prep times count in the hour of week their order was accepted.
 */
const ORDERED_AT = nextLocalMs('Europe/Paris', 19, 40, { nowMs: Date.now() - 2 * 24 * 3600_000 });

async function etaPrep(url: string, n: number): Promise<number> {
  // A slightly different basket each time, so no cached answer hides the change.
  const res = await postJson(`${url}/v1/eta`, {
    store_id: STORE,
    destination,
    items: 1 + (n % 7),
    subtotal: 10 + n,
    ordered_at: new Date(ORDERED_AT).toISOString(),
  });
  if (res.status !== 200) throw new Error(`eta answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.components.prep_seconds as number;
}

function slowKitchen(prepSeconds: number): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 12; i++) {
    const accepted = ORDERED_AT - 60_000 * (30 - i);
    const base = { order_id: `slow-${i}`, store_id: STORE };
    events.push({
      event_id: `slow-acc-${i}`,
      type: 'order.accepted',
      occurred_at: new Date(accepted).toISOString(),
      ...base,
    });
    events.push({
      event_id: `slow-rdy-${i}`,
      type: 'order.ready',
      occurred_at: new Date(accepted + prepSeconds * 1000).toISOString(),
      ...base,
    });
  }
  return events;
}

describe.each([
  ['embedded (etaserve start)', () => startAll()],
  ['local cluster (etaserve up)', () => startCluster(1)],
])('live store state from events: %s', (_name, launch) => {
  let platform: Platform;

  beforeAll(async () => {
    await ensureTemplate();
    platform = await launch();
  }, 240_000);

  afterAll(async () => {
    await platform?.stop();
  });

  it('changes the prep component of an ETA after accepted and ready events', async () => {
    const before = await etaPrep(platform.url, 0);
    const target = Math.round(before + 1500);
    const res = await postJson(`${platform.url}/v1/events`, slowKitchen(target), DEMO_KEY);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 24, duplicates: 0, rejected: [] });
    let n = 1;
    let after = before;
    await waitFor(
      async () => {
        after = await etaPrep(platform.url, n++);
        return Math.abs(after - target) < 60;
      },
      20_000,
      `prep_seconds to move from ${before} towards ${target}`,
    );
    expect(after).toBeGreaterThan(before + 1000);
  });
});
