import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countLakeOrders, flattenEvent, writeEventsToLake, type FlatEvent } from '../src/pipeline/index.js';
import { buildCity, LiveEvents, type SimEvent } from '../src/simulator/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lake-window-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the scheduled run’s count of delivered orders in the lake', () => {
  it('counts the live simulator’s deliveries, which carry their true (future) time, as the accuracy join does', async () => {
    // An evening in Paris; 20 wall-clock minutes of the demo's time-compressed orders (×10).
    const start = Date.UTC(2026, 10, 20, 18);
    let clock = start;
    const sent: SimEvent[] = [];
    const city = buildCity({ seed: 1, stores: 10 });
    const live = new LiveEvents(city, async (batch) => void sent.push(...batch), {
      now: () => clock,
      seed: 7,
      orderShare: 1,
      timeCompression: 10,
    });
    for (let i = 0; clock < start + 20 * 60_000; i++) {
      if (i % 10 === 0) {
        const store = city.stores[i % city.stores.length]!;
        live.quoted(
          { storeId: store.storeId, destination: store.location, items: 2, subtotal: 20, atMs: clock },
          {
            eta_seconds: 1800,
            range_seconds: [1500, 2200],
            promised_at: new Date(clock + 1_800_000).toISOString(),
            model_version: 'v1',
          },
        );
      }
      clock += 5_000;
      await live.flush();
    }
    const delivered = sent.filter((e) => e.type === 'order.delivered');
    // What the accuracy join saw: deliveries arrived...
    expect(delivered.length).toBeGreaterThan(5);
    // ...stamped mostly after the wall clock: the old count (delivery time inside [now - 14 d, now)) missed them.
    const stampedInThePast = delivered.filter((e) => Date.parse(e.occurred_at) < clock).length;
    expect(stampedInThePast).toBeLessThan(delivered.length);

    const lake = path.join(dir, 'lake');
    await writeEventsToLake(
      lake,
      sent.map((e) => flattenEvent(e as never)).filter((e): e is FlatEvent => e !== undefined),
    );
    const n = await countLakeOrders(lake, { fromMs: clock - 14 * 86_400_000, toMs: clock });
    expect(n).toBe(new Set(delivered.map((e) => e.order_id)).size);
    // Orders created after the window are not counted, whenever they were delivered.
    expect(await countLakeOrders(lake, { fromMs: clock - 14 * 86_400_000, toMs: start })).toBe(0);
  }, 60_000);
});
