import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { cacheConfigSchema, createCacheModule, type CacheConfig } from '../cache/index.js';
import { haversineKm, type LatLng } from '../features/index.js';
import type { GeoFeatures, TripEstimate, TripOrigin } from '../geo/index.js';
import { createLogger, createMetrics, platformConfigSchema, type PlatformConfig } from '../platform/index.js';
import { CachedGeo } from './feature-cache.js';

// A and B are 219 m apart in one res-8 cell; C is 133 m from A in the next cell.
const A = { lat: 48.864, lng: 2.352 };
const B = { lat: 48.864, lng: 2.349 };
const C = { lat: 48.865, lng: 2.353 };
const STORE: TripOrigin = { id: 's-1', location: { lat: 48.85, lng: 2.33 }, radiusKm: 5 };
const AT = Date.UTC(2026, 10, 26, 18, 5);

/** A geo service stand-in: travel time proportional to distance, recording where it was asked to estimate to. */
function geoService() {
  const asked: LatLng[] = [];
  const geo: GeoFeatures = {
    trips: async (destination, origins) => {
      asked.push(destination);
      return origins.map((o): TripEstimate => {
        const distanceKm = haversineKm(o.location, destination);
        return {
          id: o.id,
          distanceKm,
          travelSeconds: Math.round(distanceKm * 180),
          zoneSpeedKmh: 20,
          ridersAvailable: 3,
          withinRadius: distanceKm <= o.radiusKm,
        };
      });
    },
  };
  return { asked, geo };
}

function cachedGeo(geo: GeoFeatures, section: Record<string, unknown> = {}): CachedGeo {
  const ctx = {
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ target: 't' }),
    platform: Value.Default(platformConfigSchema, {}) as PlatformConfig,
  };
  const cache = createCacheModule(ctx, Value.Default(cacheConfigSchema, section) as CacheConfig);
  return new CachedGeo(geo, cache.cacheFor('geo-trips'), cache.keys);
}

describe('geo trips through the cache', () => {
  it('share one estimate, made to the cell centre, among orders to one cell, whichever came first', async () => {
    const first = geoService();
    const second = geoService();
    const ab = cachedGeo(first.geo);
    const ba = cachedGeo(second.geo);
    const [a1] = await ab.trips(A, [STORE], AT);
    const [b1] = await ab.trips(B, [STORE], AT);
    const [b2] = await ba.trips(B, [STORE], AT);
    const [a2] = await ba.trips(A, [STORE], AT);
    expect(first.asked).toHaveLength(1);
    expect(second.asked).toEqual(first.asked);
    expect(first.asked[0]).not.toEqual(A);
    expect(b1!.travelSeconds).toBe(a1!.travelSeconds);
    expect(a2).toEqual(a1);
    expect(b2).toEqual(b1);
  });

  it('take distance and the delivery radius to the exact destination', async () => {
    const { geo } = geoService();
    const cached = cachedGeo(geo);
    const [a] = await cached.trips(A, [STORE], AT);
    const [b] = await cached.trips(B, [STORE], AT);
    expect(a!.distanceKm).toBeCloseTo(haversineKm(STORE.location, A), 9);
    expect(b!.distanceKm).toBeCloseTo(haversineKm(STORE.location, B), 9);
    const tight = { ...STORE, radiusKm: (a!.distanceKm + b!.distanceKm) / 2 };
    const [aIn] = await cached.trips(A, [tight], AT);
    const [bIn] = await cached.trips(B, [tight], AT);
    expect([aIn!.withinRadius, bIn!.withinRadius].sort()).toEqual([false, true]);
  });

  it('ask geo again for another cell, and for a finer configured resolution', async () => {
    const coarse = geoService();
    const cached = cachedGeo(coarse.geo);
    await cached.trips(A, [STORE], AT);
    await cached.trips(C, [STORE], AT);
    expect(coarse.asked).toHaveLength(2);
    const fine = geoService();
    const res9 = cachedGeo(fine.geo, { destinationCellResolution: 9 });
    await res9.trips(A, [STORE], AT);
    await res9.trips(B, [STORE], AT);
    expect(fine.asked).toHaveLength(2);
  });
});
