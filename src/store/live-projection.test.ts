import { describe, expect, it } from 'vitest';
import { MemoryEventLog, type EtaEvent } from '../events/index.js';
import { createLogger } from '../platform/index.js';
import { startLiveProjection } from './live-projection.js';
import { LiveState } from './live-state.js';

const at = (iso: string): string => new Date(Date.parse(iso)).toISOString();
const ev = (id: string, type: string, time: string, order: string): EtaEvent => ({
  event_id: id,
  type: type as EtaEvent['type'],
  occurred_at: at(time),
  order_id: order,
  store_id: 's1',
});

describe('store live projection', () => {
  it('turns accepted, ready and cancelled events into kitchen load and prep time', async () => {
    const log = new MemoryEventLog({ dedupeWindowMs: 3_600_000, dedupeMaxIds: 1000 });
    const live = new LiveState({ alpha: 0.5, kitchenOrderTtlMs: 3 * 3_600_000 });
    const sub = await startLiveProjection(log, live, {
      replayHours: 24,
      pollMs: 5,
      logger: createLogger({ level: 'silent' }),
    });
    await log.append([
      ev('1', 'order.accepted', '2026-01-05T12:00:00Z', 'a'),
      ev('2', 'order.accepted', '2026-01-05T12:01:00Z', 'b'),
      ev('3', 'order.accepted', '2026-01-05T12:02:00Z', 'c'),
      ev('4', 'order.ready', '2026-01-05T12:10:00Z', 'a'),
      ev('5', 'order.cancelled', '2026-01-05T12:05:00Z', 'b'),
    ]);
    await sub.caughtUp();
    const state = live.get('s1', Date.parse('2026-01-05T12:30:00Z'), 'UTC');
    expect(state).toEqual({ ordersInKitchen: 1, prepEwmaSeconds: 600 });
    await log.append([ev('6', 'order.picked_up', '2026-01-05T12:22:00Z', 'c')]);
    await sub.caughtUp();
    await sub.close();
    expect(live.get('s1', Date.parse('2026-01-05T12:30:00Z'), 'UTC')).toEqual({
      ordersInKitchen: 0,
      prepEwmaSeconds: 900,
    });
  });
});
