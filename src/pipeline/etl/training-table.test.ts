import { describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../../features/index.js';
import { Value } from 'typebox/value';
import { GeoService, geoConfigSchema, ZoneSpeedTable, type GeoConfig } from '../../geo/index.js';
import { generateHistory, OrderTable, type SimulatedOrder } from '../../simulator/index.js';
import type { OrderHistory } from '../history.js';
import { buildTrainingTable, learnSpeedsBefore, type TrainingTable } from './training-table.js';

const col = (name: string): number => FEATURE_NAMES.indexOf(name);
const speeds = ZoneSpeedTable.defaults(18, 'Europe/Paris', 7);
const history = generateHistory({
  seed: 11,
  days: 4,
  stores: 25,
  ordersPerDay: 400,
  startMs: Date.UTC(2026, 0, 5),
});

function rowOf(table: TrainingTable, orderIndex: number): number[] {
  const r = table.orderIndex.indexOf(orderIndex);
  expect(r).toBeGreaterThanOrEqual(0);
  return table.columns.map((c) => c[r]!);
}

const STORE = {
  storeId: 's-1',
  location: { lat: 48.8566, lng: 2.3522 },
  category: 'pizza',
  timezone: 'Europe/Paris',
  prepProfile: { meanSeconds: 900, p90Seconds: 1500 },
};
const T0 = Date.UTC(2026, 0, 14, 9, 0); // Wednesday 10:00 in Paris
const MIN = 60_000;

function order(
  id: string,
  created: number,
  accepted: number,
  ready: number,
  delivered: number | null = ready + 20 * MIN,
): SimulatedOrder {
  return {
    order_id: id,
    store_id: 's-1',
    rider_id: 'r-1',
    destination: { lat: 48.87, lng: 2.36 },
    items: 2,
    subtotal: 25,
    created_at_ms: created,
    accepted_at_ms: accepted,
    ready_at_ms: ready,
    picked_up_at_ms: delivered === null ? null : ready + MIN,
    delivered_at_ms: delivered,
    cancelled: false,
    cancelled_at_ms: null,
  };
}

describe('buildTrainingTable', () => {
  it('builds one column-major row per delivered order, in creation order, with the target in seconds', () => {
    const table = buildTrainingTable(history, { speeds });
    const delivered = [...history.orders].filter((o) => o.delivered_at_ms !== null);
    expect(table.nRows).toBe(delivered.length);
    expect(table.columns).toHaveLength(FEATURE_NAMES.length);
    expect(table.columns.every((c) => c instanceof Float64Array && c.length === table.nRows)).toBe(true);
    for (let r = 1; r < table.nRows; r++)
      expect(table.createdAtMs[r]!).toBeGreaterThanOrEqual(table.createdAtMs[r - 1]!);
    const o = history.orders.get(table.orderIndex[10]!);
    expect(table.target[10]).toBe((o.delivered_at_ms! - o.created_at_ms) / 1000);
    expect(table.columns[col('riders_available')]!.some((v) => v > 0)).toBe(true);
  });

  it('does not change an order’s row when anything after its creation changes', () => {
    const base = buildTrainingTable(history, { speeds });
    const mid = base.orderIndex[Math.floor(base.nRows / 2)]!;
    const cutoff = history.orders.get(mid).created_at_ms;
    const altered: OrderHistory = {
      stores: history.stores,
      orders: OrderTable.from(
        [...history.orders].map((o) =>
          o.created_at_ms <= cutoff
            ? o
            : {
                ...o,
                accepted_at_ms: o.created_at_ms + 1,
                ready_at_ms: o.ready_at_ms === null ? null : o.created_at_ms + 2,
                items: o.items + 5,
                destination: { lat: o.destination.lat + 0.01, lng: o.destination.lng },
              },
        ),
      ),
      riderPings: {
        ...history.riderPings,
        available: history.riderPings.available.map((a, i) =>
          history.riderPings.atMs[i]! >= cutoff ? 1 - a : a,
        ),
      },
    };
    const changed = buildTrainingTable(altered, { speeds });
    let compared = 0;
    for (let r = 0; r < base.nRows && base.createdAtMs[r]! <= cutoff; r++, compared++) {
      expect(rowOf(changed, base.orderIndex[r]!)).toEqual(rowOf(base, base.orderIndex[r]!));
    }
    expect(compared).toBeGreaterThan(100);
    // and the change is visible after the cutoff, so the test can fail
    const later = base.orderIndex[base.nRows - 1]!;
    expect(rowOf(changed, later)).not.toEqual(rowOf(base, later));
  });

  it('uses only prep times that ended strictly before the order, and counts orders accepted and not yet ready', () => {
    const orders = [
      order('o1', T0, T0 + MIN, T0 + 21 * MIN), // 20 min prep, ready at 10:21
      order('o2', T0 + 10 * MIN, T0 + 11 * MIN, T0 + 31 * MIN), // o1 cooking, no prep known yet
      order('o3', T0 + 21 * MIN, T0 + 22 * MIN, T0 + 40 * MIN), // created the very ms o1 is ready: not yet known
      order('o4', T0 + 25 * MIN, T0 + 26 * MIN, T0 + 45 * MIN), // o1 known; o2 and o3 in the kitchen
    ];
    const table = buildTrainingTable({ stores: [STORE], orders: OrderTable.from(orders) }, { speeds });
    const ewma = table.columns[col('prep_ewma_s')]!;
    const kitchen = table.columns[col('orders_in_kitchen')]!;
    expect(Number.isNaN(ewma[0]!)).toBe(true);
    expect(Number.isNaN(ewma[1]!)).toBe(true);
    expect(Number.isNaN(ewma[2]!)).toBe(true);
    expect(ewma[3]).toBe(1200);
    // o3 still counts o1, whose ready event is at the same instant (not strictly before), and o2
    expect([...kitchen]).toEqual([0, 1, 2, 2]);
    expect(Number.isNaN(table.columns[col('riders_available')]![0]!)).toBe(true);
  });

  it('learns zone speeds only from rides finished before the cut', () => {
    const cut = history.orders.get(Math.floor(history.orders.length * 0.7)).created_at_ms;
    const before = learnSpeedsBefore(history, cut);
    const slowerLater = {
      ...history,
      orders: OrderTable.from(
        [...history.orders].map((o) =>
          o.delivered_at_ms !== null && o.delivered_at_ms >= cut
            ? { ...o, delivered_at_ms: o.delivered_at_ms + 30 * MIN }
            : o,
        ),
      ),
    };
    expect(learnSpeedsBefore(slowerLater, cut)).toEqual(before);
    expect(before.trips).toBeGreaterThan(100);
  });

  it('computes the trip features exactly as the online geo service does', async () => {
    const learned = ZoneSpeedTable.fromJSON(
      learnSpeedsBefore(history, history.orders.get(history.orders.length >> 1).created_at_ms),
    );
    if (!learned.ok) throw new Error(learned.error);
    const table = buildTrainingTable(history, { speeds: learned.value });
    const geo = new GeoService(Value.Default(geoConfigSchema, {}) as GeoConfig);
    geo.setSpeeds(learned.value);
    const pings = history.riderPings;
    let p = 0;
    const names = ['distance_km', 'travel_estimate_s', 'zone_speed_kmh', 'riders_available'];
    for (let r = 0; r < table.nRows; r += 97) {
      const o = history.orders.get(table.orderIndex[r]!);
      for (; p < pings.count && pings.atMs[p]! < o.created_at_ms; p++) {
        geo.recordRiderLocation(
          pings.riderIds[pings.rider[p]!]!,
          pings.lat[p]!,
          pings.lng[p]!,
          pings.atMs[p]!,
          pings.available[p] === 1,
        );
      }
      const store = history.stores.find((s) => s.storeId === o.store_id)!;
      const [trip] = await geo.trips(
        o.destination,
        [{ id: store.storeId, location: store.location, radiusKm: 10 }],
        o.created_at_ms,
      );
      const online = [
        trip!.distanceKm,
        trip!.travelSeconds,
        trip!.zoneSpeedKmh,
        trip!.ridersAvailable ?? Number.NaN,
      ];
      expect(names.map((n) => table.columns[col(n)]![r])).toEqual(online);
    }
  });
});
