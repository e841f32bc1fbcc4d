import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { haversineKm, localTime, STORE_CATEGORIES } from '../features/index.js';
import { isOpen } from './city.js';
import { generateHistory } from './history.js';
import { writeHistory } from './write-history.js';

const START = Date.UTC(2026, 0, 5); // a Monday
const small = { seed: 7, days: 7, stores: 40, ordersPerDay: 400, startMs: START };

describe('generateHistory', () => {
  const history = generateHistory(small);

  it('is deterministic for a seed', () => {
    const again = generateHistory(small);
    expect(again.orders.length).toBe(history.orders.length);
    expect(again.orders.get(123)).toEqual(history.orders.get(123));
    expect(again.riderPings.count).toBe(history.riderPings.count);
    expect(generateHistory({ ...small, seed: 8 }).orders.get(123)).not.toEqual(history.orders.get(123));
  });

  it('gives every order ordered lifecycle timestamps, a destination within its radius, and an open store', () => {
    const stores = new Map(history.stores.map((s, i) => [s.storeId, { s, i }]));
    let last = 0;
    for (const o of history.orders) {
      expect(o.created_at_ms).toBeGreaterThanOrEqual(last);
      last = o.created_at_ms;
      const { s, i } = stores.get(o.store_id)!;
      expect(haversineKm(s.location, o.destination)).toBeLessThanOrEqual(s.deliveryRadiusKm);
      const t = localTime(s.timezone, o.created_at_ms);
      expect(isOpen(history.city, i, t.weekday, t.minuteOfDay)).toBe(true);
      if (o.cancelled) {
        expect(o.cancelled_at_ms).toBeGreaterThan(o.created_at_ms);
        expect(o.delivered_at_ms).toBeNull();
        continue;
      }
      expect(o.accepted_at_ms!).toBeGreaterThanOrEqual(o.created_at_ms);
      expect(o.ready_at_ms!).toBeGreaterThan(o.accepted_at_ms!);
      expect(o.picked_up_at_ms!).toBeGreaterThanOrEqual(o.ready_at_ms!);
      expect(o.delivered_at_ms!).toBeGreaterThan(o.picked_up_at_ms!);
      expect(o.items).toBeGreaterThanOrEqual(1);
    }
    expect([...history.orders].filter((o) => o.cancelled).length / history.orders.length).toBeLessThan(0.1);
  });

  it('has lunch and dinner peaks, and a few stores take most orders', () => {
    const byHour = new Array(24).fill(0);
    for (const o of history.orders) byHour[Math.floor(localTime('Europe/Paris', o.created_at_ms).hour)]++;
    expect(byHour[12]).toBeGreaterThan(2 * byHour[16]);
    expect(byHour[20]).toBeGreaterThan(2 * byHour[16]);
    expect(byHour[4]).toBeLessThan(byHour[16]);
    const perStore = new Map<string, number>();
    for (const o of history.orders) perStore.set(o.store_id, (perStore.get(o.store_id) ?? 0) + 1);
    const counts = [...perStore.values()].sort((a, b) => b - a);
    expect(counts.slice(0, 8).reduce((a, b) => a + b, 0)).toBeGreaterThan(history.orders.length / 2);
  });

  it('describes stores the way the catalog takes them', () => {
    const s = history.stores[0]!;
    expect(s.storeId).toBe('s-0001');
    expect(STORE_CATEGORIES as readonly string[]).toContain(s.category);
    expect(s.timezone).toBe('Europe/Paris');
    expect(s.prepProfile.p90Seconds).toBeGreaterThan(s.prepProfile.meanSeconds);
    expect(
      Object.values(s.openingHours)
        .flat()
        .every(([a, b]) => /^\d\d:\d\d$/.test(a) && /^\d\d:\d\d$/.test(b)),
    ).toBe(true);
  });

  it('reports rider positions in time order, busy riders as unavailable', () => {
    const p = history.riderPings;
    expect(p.count).toBeGreaterThan(1000);
    let sorted = true;
    for (let i = 1; i < p.count; i++) sorted &&= p.atMs[i]! >= p.atMs[i - 1]!;
    expect(sorted).toBe(true);
    const free = p.available.reduce((a, b) => a + b, 0);
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThan(p.count);
  });

  it('writes stores.jsonl, orders.csv and rider_pings.csv', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sim-'));
    try {
      const counts = await writeHistory(dir, history, (s) => ({ store_id: s.storeId }));
      const orders = (await readFile(path.join(dir, 'orders.csv'), 'utf8')).trim().split('\n');
      expect(orders[0]).toContain('created_at_ms');
      expect(orders.length - 1).toBe(counts.orders);
      const stores = (await readFile(path.join(dir, 'stores.jsonl'), 'utf8')).trim().split('\n');
      expect(JSON.parse(stores[0]!).store_id).toBe('s-0001');
      const pings = (await readFile(path.join(dir, 'rider_pings.csv'), 'utf8')).trim().split('\n');
      expect(pings.length - 1).toBe(counts.pings);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
