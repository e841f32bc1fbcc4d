import { describe, expect, it } from 'vitest';
import type { EtaEvent, LogRecord } from '../events/index.js';
import { createLogger } from '../platform/index.js';
import { OrderBook } from './book.js';
import { LiveEtaTracker, quoteOnly, type CheckoutContext, type LiveEta } from './live-eta.js';
import { OrdersService } from './service.js';

const MIN = 60_000;
const T0 = Date.parse('2026-12-07T18:00:00Z');
const CHECKOUT = {
  store: {
    storeId: 's-1',
    location: { lat: 48.86, lng: 2.35 },
    category: 'pizza',
    timezone: 'Europe/Paris',
    prepMeanSeconds: 600,
    prepEwmaSeconds: null,
    ordersInKitchen: 2,
  },
  trip: { distanceKm: 1.6, travelSeconds: 480, zoneSpeedKmh: 18, ridersAvailable: 4 },
};

let offset = 0;
function record(type: string, atMs: number, fields: Record<string, unknown> = {}): LogRecord {
  const event: EtaEvent = {
    event_id: `${type}-${atMs}-${offset}`,
    type: type as EtaEvent['type'],
    occurred_at: new Date(atMs).toISOString(),
    ...fields,
  };
  return { offset: String(offset++), ingestedAtMs: atMs, event };
}

const order = (type: string, atMs: number, extra: Record<string, unknown> = {}): LogRecord =>
  record(type, atMs, { order_id: 'o-1', store_id: 's-1', ...extra });

const created = (atMs: number): LogRecord =>
  order('order.created', atMs, {
    destination: { lat: 48.87, lng: 2.34 },
    items: 2,
    subtotal: 30,
    quoted_eta_seconds: 1800,
    quoted_range_seconds: [1400, 2400],
    promised_at: new Date(atMs + 2100_000).toISOString(),
    model_version: 'v1',
  });

function harness(
  threshold = 0.5,
  checkout: () => Promise<CheckoutContext | undefined> = async () => CHECKOUT,
) {
  const clock = { now: T0 };
  const alerts: EtaEvent[] = [];
  const book = new OrderBook({ keepFinishedMs: 60 * MIN, maxLifeMs: 12 * 60 * MIN });
  const service = new OrdersService({
    book,
    tracker: new LiveEtaTracker(() => quoteOnly, { maxShiftSecondsPerMinute: 120, deadbandSeconds: 0 }),
    checkout,
    emit: async (events) => void alerts.push(...events),
    lateRisk: { threshold, hysteresis: 0.1 },
    logger: createLogger({ level: 'silent' }),
    now: () => clock.now,
  });
  return { clock, alerts, service };
}

describe("an order's live ETA", () => {
  it('follows the stages by occurred_at, shrinks as the order moves, and stops when delivered', async () => {
    const { clock, service } = harness();
    await service.apply([created(T0)]);
    const seen: LiveEta[] = [(await service.eta('o-1'))!];
    expect(seen[0]!.stage).toBe('created');
    expect(seen[0]!.remainingSeconds).toBeGreaterThan(1400);
    const steps: Array<[string, number]> = [
      ['order.accepted', 2],
      ['order.ready', 14],
      ['order.picked_up', 18],
    ];
    for (const [type, minutes] of steps) {
      clock.now = T0 + minutes * MIN;
      await service.apply([order(type, clock.now, { rider_id: 'r-1' })]);
      const eta = (await service.eta('o-1'))!;
      expect(eta.stage).toBe(type.slice('order.'.length));
      expect(eta.remainingSeconds).toBeLessThan(seen.at(-1)!.remainingSeconds);
      expect(eta.pLate).toBeGreaterThanOrEqual(0);
      expect(eta.pLate).toBeLessThanOrEqual(1);
      expect(eta.rangeAtMs[0]).toBeLessThanOrEqual(eta.etaAtMs);
      expect(eta.etaAtMs).toBeLessThanOrEqual(eta.rangeAtMs[1]);
      seen.push(eta);
    }
    clock.now = T0 + 29 * MIN;
    await service.apply([order('order.delivered', T0 + 28 * MIN)]);
    const done = (await service.eta('o-1'))!;
    expect(done).toMatchObject({ stage: 'delivered', remainingSeconds: 0, etaAtMs: T0 + 28 * MIN, pLate: 0 });
    clock.now = T0 + 40 * MIN;
    expect((await service.eta('o-1'))!.etaAtMs).toBe(T0 + 28 * MIN);
  });

  it('places a late event by occurred_at: a pickup that arrives after delivery does not reopen the order', async () => {
    const { clock, service } = harness();
    clock.now = T0 + 30 * MIN;
    await service.apply([
      created(T0),
      order('order.delivered', T0 + 25 * MIN),
      order('order.picked_up', T0 + 15 * MIN),
      order('order.accepted', T0 + 1 * MIN),
    ]);
    const eta = (await service.eta('o-1'))!;
    expect(eta.stage).toBe('delivered');
    expect(eta.etaAtMs).toBe(T0 + 25 * MIN);
  });

  it('raises P(late) while the rider stalls, alerts once per crossing with a deterministic id, and not again after a restart', async () => {
    const { clock, alerts, service } = harness(0.5);
    await service.apply([created(T0), order('order.rider_assigned', T0 + MIN, { rider_id: 'r-1' })]);
    service.goLive();
    let last = (await service.eta('o-1'))!.pLate;
    for (let minutes = 20; minutes <= 44; minutes += 4) {
      clock.now = T0 + minutes * MIN;
      // The rider reports the same position: stalled.
      await service.apply([record('rider.location', clock.now, { rider_id: 'r-1', lat: 48.86, lng: 2.35 })]);
      const p = (await service.eta('o-1'))!.pLate;
      expect(p).toBeGreaterThanOrEqual(last);
      last = p;
    }
    expect(last).toBeGreaterThan(0.9);
    expect(alerts.map((a) => a.event_id)).toEqual(['late-risk:o-1:1']);
    expect(alerts[0]).toMatchObject({ type: 'order.late_risk', order_id: 'o-1', store_id: 's-1' });

    // A restart replays the log, its own alert included: the order is still at risk, and nobody is told twice.
    const restarted = harness(0.5);
    restarted.clock.now = clock.now;
    const replay = [created(T0), order('order.rider_assigned', T0 + MIN, { rider_id: 'r-1' })];
    replay.push({ offset: 'x', ingestedAtMs: clock.now, event: alerts[0]! });
    await restarted.service.apply(replay);
    restarted.service.goLive();
    await restarted.service.eta('o-1');
    restarted.service.refresh();
    expect(restarted.alerts).toEqual([]);
  });

  it('drops a late backfill of orders long past instead of alerting on them', async () => {
    const { clock, alerts, service } = harness();
    service.goLive();
    clock.now = T0 + 2 * 24 * 60 * MIN;
    // Two days late, never delivered: far past its promise, and past orders.maxLifeHours.
    await service.apply([created(T0), order('order.accepted', T0 + 2 * MIN)]);
    expect(await service.eta('o-1')).toBeUndefined();
    expect(alerts).toEqual([]);
    expect(service.size).toBe(0);
    // The same order within its life is followed, and alerts.
    const fresh = harness();
    fresh.service.goLive();
    fresh.clock.now = T0 + 60 * MIN;
    await fresh.service.apply([created(T0)]);
    expect((await fresh.service.eta('o-1'))?.stage).toBe('created');
    expect(fresh.alerts.map((a) => a.type)).toEqual(['order.late_risk']);
  });

  it('pushes each new answer to watchers and forgets an order on request', async () => {
    const { clock, service } = harness();
    await service.apply([created(T0)]);
    const pushed: string[] = [];
    const stop = service.subscribe('o-1', (eta) => pushed.push(eta.stage));
    clock.now = T0 + 3 * MIN;
    await service.apply([order('order.accepted', clock.now)]);
    stop();
    await service.apply([order('order.ready', clock.now + MIN)]);
    expect(pushed).toEqual(['accepted']);
    expect(service.forget(['o-1'])).toBe(1);
    expect(await service.eta('o-1')).toBeUndefined();
  });
});

describe("the console's map of active orders", () => {
  it('places each order at its store until pickup, then at its rider, with its destination', async () => {
    const { clock, service } = harness();
    await service.apply([created(T0), order('order.accepted', T0 + MIN, { rider_id: 'r-1' })]);
    // The rider reports on the way to the store: the food is still in the kitchen.
    clock.now = T0 + 10 * MIN;
    await service.apply([record('rider.location', clock.now, { rider_id: 'r-1', lat: 48.861, lng: 2.351 })]);
    let [listed] = service.atRisk(10);
    expect(listed).toMatchObject({
      orderId: 'o-1',
      stage: 'accepted',
      position: { lat: 48.86, lng: 2.35, source: 'store' },
      destination: { lat: 48.87, lng: 2.34 },
    });
    clock.now = T0 + 18 * MIN;
    await service.apply([order('order.picked_up', clock.now, { rider_id: 'r-1' })]);
    await service.apply([
      record('rider.location', clock.now + MIN, { rider_id: 'r-1', lat: 48.865, lng: 2.345 }),
    ]);
    [listed] = service.atRisk(10);
    expect(listed).toMatchObject({
      stage: 'picked_up',
      position: { lat: 48.865, lng: 2.345, source: 'rider' },
      destination: { lat: 48.87, lng: 2.34 },
    });
    // Delivered: no longer on the map.
    await service.apply([order('order.delivered', clock.now + 5 * MIN)]);
    expect(service.atRisk(10)).toEqual([]);
  });

  it('has no position while neither the store nor a picked-up rider is known', async () => {
    // The store module cannot answer for the order (and will be asked again later).
    const { clock, service } = harness(0.5, async () => undefined);
    await service.apply([created(T0), order('order.accepted', T0 + MIN, { rider_id: 'r-1' })]);
    expect(service.atRisk(10)[0]).toMatchObject({ position: null, destination: { lat: 48.87, lng: 2.34 } });
    // Picked up, but the rider has not reported yet: still nowhere; then their first position.
    clock.now = T0 + 18 * MIN;
    await service.apply([order('order.picked_up', clock.now, { rider_id: 'r-1' })]);
    expect(service.atRisk(10)[0]?.position).toBeNull();
    await service.apply([
      record('rider.location', clock.now + MIN, { rider_id: 'r-1', lat: 48.865, lng: 2.345 }),
    ]);
    expect(service.atRisk(10)[0]?.position).toEqual({ lat: 48.865, lng: 2.345, source: 'rider' });
  });
});
