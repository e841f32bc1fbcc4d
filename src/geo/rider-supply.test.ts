import { describe, expect, it } from 'vitest';
import { RiderSupply } from './rider-supply.js';

const PARIS = { lat: 48.8566, lng: 2.3522 };

describe('RiderSupply', () => {
  it('counts free riders in the zone and its ring, and forgets them after the TTL', () => {
    const supply = new RiderSupply({ resolution: 7, ttlMs: 60_000 });
    expect(supply.ridersNear(PARIS, 0)).toBeNull();
    supply.recordRiderLocation('r1', PARIS.lat, PARIS.lng, 1000, true);
    supply.recordRiderLocation('r2', PARIS.lat + 0.01, PARIS.lng, 1000, true);
    supply.recordRiderLocation('r3', PARIS.lat, PARIS.lng, 1000, false);
    supply.recordRiderLocation('far', 49.5, 3.5, 1000, true);
    expect(supply.ridersNear(PARIS, 2000)).toBe(2);
    supply.recordRiderLocation('r1', PARIS.lat, PARIS.lng, 30_000, false);
    expect(supply.ridersNear(PARIS, 31_000)).toBe(1);
    expect(supply.ridersNear(PARIS, 70_000)).toBe(0);
    expect(supply.ridersNear(PARIS, 200_000)).toBeNull();
  });

  it('ignores a ping older than the one it knows, and moves riders between zones', () => {
    const supply = new RiderSupply({ resolution: 7, ttlMs: 60_000 });
    supply.recordRiderLocation('r1', 49.5, 3.5, 5000, true);
    supply.recordRiderLocation('r1', PARIS.lat, PARIS.lng, 4000, true);
    expect(supply.ridersNear(PARIS, 6000)).toBe(0);
    supply.recordRiderLocation('r1', PARIS.lat, PARIS.lng, 7000, true);
    expect(supply.ridersNear(PARIS, 8000)).toBe(1);
    expect(supply.ridersNear({ lat: 49.5, lng: 3.5 }, 8000)).toBe(0);
    supply.prune(200_000);
    expect(supply.size).toBe(0);
  });
});
