import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryEventLog, type EtaEvent } from '../src/events/index.js';
import { startAccuracyProjection, type AccuracyProjection } from '../src/pipeline/accuracy/projection.js';
import { createLogger, createMetrics } from '../src/platform/index.js';
import { storeZone, ZonePrepShift, type ZoneAlarmChange } from '../src/pipeline/accuracy/zone-drift.js';
import { generateHistory, type SimulatedHistory } from '../src/simulator/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// 14 days from a Monday: a zone is judged once its baseline spans a week (day 8), leaving 6 days to watch.
const OPTIONS = { seed: 11, days: 14, stores: 40, ordersPerDay: 3000, startMs: Date.UTC(2026, 0, 5) };

let history: SimulatedHistory;
let zoneOfStore: Map<string, string>;
/** Zones by orders, busiest first. */
let zonesByOrders: Array<[string, number]>;

beforeAll(() => {
  history = generateHistory(OPTIONS);
  zoneOfStore = new Map(history.stores.map((s) => [s.storeId, storeZone(s.location)]));
  const count = new Map<string, number>();
  for (let i = 0; i < history.orders.length; i++) {
    const z = zoneOfStore.get(history.orders.storeIds[history.orders.store[i]!]!)!;
    count.set(z, (count.get(z) ?? 0) + 1);
  }
  zonesByOrders = [...count].sort((a, b) => b[1] - a[1]);
}, 60_000);

interface Run {
  /** Every alarm raised or cleared, with the zone's orders created since the shift at that moment. */
  changes: Array<ZoneAlarmChange & { sinceShift: number }>;
  check: ZonePrepShift;
}

/** Every order's prep time (accepted → ready), in the order they are ready, into the production check. */
function replay(h: SimulatedHistory, shiftMs = Infinity): Run {
  const o = h.orders;
  const ready: number[] = [];
  for (let i = 0; i < o.length; i++)
    if (Number.isFinite(o.readyAtMs[i]!) && Number.isFinite(o.acceptedAtMs[i]!)) ready.push(i);
  ready.sort((a, b) => o.readyAtMs[a]! - o.readyAtMs[b]!);
  const check = new ZonePrepShift();
  const sinceShift = new Map<string, number>();
  const changes: Run['changes'] = [];
  check.onChange((c) => changes.push({ ...c, sinceShift: sinceShift.get(c.zone) ?? 0 }));
  for (const i of ready) {
    const zone = zoneOfStore.get(o.storeIds[o.store[i]!]!)!;
    if (o.createdAtMs[i]! >= shiftMs) sinceShift.set(zone, (sinceShift.get(zone) ?? 0) + 1);
    check.add(zone, o.readyAtMs[i]!, (o.readyAtMs[i]! - o.acceptedAtMs[i]!) / 1000);
  }
  return { changes, check };
}

describe('per-zone prep shift', () => {
  it('stays quiet on 6 days of unchanged traffic in every zone', () => {
    const run = replay(history);
    const judged = run.check.entries();
    // 7 of the 13 zones have a week of baseline with 300 orders to be judged; the 6 smallest are not.
    expect(judged.length).toBe(7);
    expect(run.changes, JSON.stringify(run.changes.map((c) => c.entry))).toEqual([]);
  });

  it('prep +50% in the median zone: that zone alarms within a day, no other zone does', () => {
    const zone = zonesByOrders[Math.floor(zonesByOrders.length / 2)]![0];
    const storeIds = [...zoneOfStore].filter(([, z]) => z === zone).map(([s]) => s);
    const shiftMs = history.startMs + 9.5 * DAY; // a Wednesday noon
    const shifted = generateHistory({ ...OPTIONS, prepShift: { storeIds, factor: 1.5, fromMs: shiftMs } });
    const run = replay(shifted, shiftMs);

    const first = run.changes.find((c) => c.alarm && c.zone === zone);
    const report = {
      zone,
      share: (zonesByOrders.find(([z]) => z === zone)![1] / history.orders.length).toFixed(3),
      first_alarm_h: first ? (first.atMs - shiftMs) / HOUR : null,
      orders_since_shift: first?.sinceShift,
      entry: first?.entry,
    };
    expect(first, JSON.stringify(report)).toBeDefined();
    expect(first!.atMs).toBeGreaterThan(shiftMs);
    // Measured: 22.7 h, 53 of the zone's orders (it has ~70 a day; the live mean needs 30 of them past the bound).
    expect(first!.atMs - shiftMs, JSON.stringify(report)).toBeLessThan(24 * HOUR);
    expect(first!.sinceShift).toBeLessThanOrEqual(60);
    expect(first!.entry.recent_prep_s / first!.entry.baseline_prep_s).toBeGreaterThan(1.3);
    expect(run.check.alarms().length + run.changes.length).toBeGreaterThan(0);
    expect(run.changes.filter((c) => c.zone !== zone)).toEqual([]);
  });

  it('prep +50% in a busier zone (6th of 13): alarms within 3 hours', () => {
    const zone = zonesByOrders[5]![0];
    const storeIds = [...zoneOfStore].filter(([, z]) => z === zone).map(([s]) => s);
    const shiftMs = history.startMs + 9.5 * DAY;
    const run = replay(
      generateHistory({ ...OPTIONS, prepShift: { storeIds, factor: 1.5, fromMs: shiftMs } }),
      shiftMs,
    );
    const first = run.changes.find((c) => c.alarm && c.zone === zone);
    expect(first).toBeDefined();
    // Measured: 2.6 h, 24 orders after the change (the live mean of 30 already held a few slow ones).
    expect(first!.atMs - shiftMs).toBeLessThan(3 * HOUR);
    expect(first!.entry.bound_s).toBeGreaterThan(0);
    // None within a day. Later one does: zone 871fb4663ffffff 85 h after the change, on a Sunday rush (6872 s against
    // 2391 s, bound 4409 s). After the change the simulator's random draws diverge (rider dispatch differs), so that
    // is another realisation of unchanged traffic in that zone: the check's false-alarm rate is low, not zero.
    expect(run.changes.filter((c) => c.zone !== zone && c.atMs - shiftMs < DAY)).toEqual([]);
  });
});

describe('the prep-shift check in the accuracy projection', () => {
  let projection: AccuracyProjection | undefined;
  afterEach(async () => {
    await projection?.close();
    projection = undefined;
  });

  it('reads accepted → ready from the log, and shows a zone alarm in the summary, the gauge and one log line', async () => {
    // One store, an order every 25 minutes for 8.6 days up to now: prep 600 s ± 40, the last 40 at 900 s.
    const now = Date.now();
    const n = Math.floor((8.6 * DAY) / (25 * 60_000));
    const events: EtaEvent[] = [];
    for (let i = 0; i < n; i++) {
      const accepted = now - (n - i) * 25 * 60_000;
      const prep = i >= n - 40 ? 900 : 600 + 40 * Math.sin(i);
      const step = (type: string, at: number): EtaEvent => ({
        event_id: `${type}-${i}`,
        type: type as EtaEvent['type'],
        occurred_at: new Date(at).toISOString(),
        order_id: `o${i}`,
        store_id: 's1',
      });
      events.push(step('order.accepted', accepted), step('order.ready', accepted + prep * 1000));
    }
    const log = new MemoryEventLog({ dedupeWindowMs: 60_000, dedupeMaxIds: 100_000 });
    await log.append(events);
    const { registry } = createMetrics();
    const lines: string[] = [];
    const logger = createLogger({ level: 'silent' });
    const warn = logger.warn.bind(logger);
    logger.warn = ((o: unknown, msg?: string) => {
      lines.push(msg ?? String(o));
      return warn(o as object, msg);
    }) as typeof logger.warn;
    projection = startAccuracyProjection(log, {
      windowMinutes: 60,
      replayHours: 1,
      pollMs: 20,
      logger,
      registry,
      zoneOfStores: async (ids) => new Map(ids.map((id) => [id, 'z1'])),
    });
    await projection.subscription.caughtUp();
    await new Promise((r) => setTimeout(r, 200));
    const alarms = projection.summary().zone_alarms;
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ zone: 'z1', orders: 30, recent_prep_s: 900 });
    expect(alarms[0]!.baseline_prep_s).toBeCloseTo(600, -1);
    expect(alarms[0]!.message).toMatch(
      /^zone z1: kitchens slower: prep 15\.0 min over its last 30 orders, 10\.0 min usually \(\+50%\)$/,
    );
    expect(await registry.metrics()).toMatch(/^etaserve_zone_prep_shift\{zone="z1"\} 1$/m);
    expect(lines.filter((l) => l.startsWith('prep shift:'))).toHaveLength(1);
  });
});
