import { describe, expect, it } from 'vitest';
import { haversineKm } from '../features/index.js';
import { buildCity } from './city.js';
import { LiveCity, type LiveEtaRequest } from './live.js';

describe('LiveCity', () => {
  const city = buildCity({ seed: 3, stores: 50 });
  const dinner = Date.UTC(2026, 0, 14, 19, 0); // 20:00 in Paris

  it('asks about open stores, for destinations within their radius', () => {
    const live = new LiveCity(city, async () => {}, { ratePerSecond: 0, seed: 1 });
    for (let i = 0; i < 200; i++) {
      const req = live.nextRequest(dinner)!;
      const store = city.stores.find((s) => s.storeId === req.storeId)!;
      expect(haversineKm(store.location, req.destination)).toBeLessThanOrEqual(store.deliveryRadiusKm);
      expect(req.items).toBeGreaterThanOrEqual(1);
      expect(req.atMs).toBe(dinner);
    }
  });

  it('sends requests at about the configured rate until stopped', async () => {
    const seen: LiveEtaRequest[] = [];
    const live = new LiveCity(city, async (r) => void seen.push(r), {
      ratePerSecond: 200,
      tickMs: 20,
      seed: 2,
      now: () => dinner,
    });
    live.start();
    await new Promise((r) => setTimeout(r, 500));
    live.stop();
    const n = seen.length;
    expect(n).toBeGreaterThan(30);
    expect(n).toBeLessThan(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.length).toBe(n);
  });
});
