import { latLngToCell } from 'h3-js';
import { Value } from 'typebox/value';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cacheConfigSchema, createCacheModule, type CacheConfig } from '../cache/index.js';
import { haversineKm, type LatLng } from '../features/index.js';
import {
  BAND_COUNT,
  geoConfigSchema,
  GeoService,
  ZoneSpeedTable,
  type GeoConfig,
  type GeoFeatures,
  type TripOrigin,
} from './index.js';
import { createLogger, createMetrics, platformConfigSchema, type PlatformConfig } from '../platform/index.js';
import { CachedGeo } from './cached-geo.js';

const GEO = Value.Default(geoConfigSchema, {}) as GeoConfig;
const LEFT_BANK: TripOrigin = { id: 's-1', location: { lat: 48.85, lng: 2.33 }, radiusKm: 8 };
const NORTH: TripOrigin = { id: 's-2', location: { lat: 48.885, lng: 2.36 }, radiusKm: 8 };
const AT = Date.UTC(2026, 10, 26, 18, 5);
const HOUR = 3_600_000;

/** The real geo service, counting the calls that reach it. */
function countedGeo(service = new GeoService(GEO)) {
  const calls: LatLng[] = [];
  const geo: GeoFeatures = {
    trips: (destination, origins, atMs) => {
      calls.push(destination);
      return service.trips(destination, origins, atMs);
    },
  };
  return { service, geo, calls };
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

/** Destinations scattered up to ~7 km around a point, deterministic. */
function around(centre: LatLng, n: number): LatLng[] {
  return Array.from({ length: n }, (_, i) => {
    const km = 0.2 + ((i * 37) % 70) / 10;
    const bearing = (i * 2.399963) % (2 * Math.PI);
    return {
      lat: centre.lat + (km * Math.cos(bearing)) / 111.32,
      lng: centre.lng + (km * Math.sin(bearing)) / (111.32 * Math.cos((centre.lat * Math.PI) / 180)),
    };
  });
}

afterEach(() => vi.useRealTimers());

describe('geo trips through the cache', () => {
  it("give every destination geo's own estimate, asking geo once per store and hour", async () => {
    const { service, geo, calls } = countedGeo();
    const cached = cachedGeo(geo);
    for (const destination of around({ lat: 48.865, lng: 2.345 }, 60)) {
      const got = await cached.trips(destination, [LEFT_BANK, NORTH], AT);
      const want = await service.trips(destination, [LEFT_BANK, NORTH], AT);
      expect(got.map((t) => t.travelSeconds)).toEqual(want.map((t) => expect.closeTo(t.travelSeconds, 6)));
      expect(got.map((t) => t.distanceKm)).toEqual(want.map((t) => t.distanceKm));
      expect(got.map((t) => t.zoneSpeedKmh)).toEqual(want.map((t) => t.zoneSpeedKmh));
      expect(got.map((t) => t.withinRadius)).toEqual(want.map((t) => t.withinRadius));
    }
    expect(calls).toHaveLength(1);
    // Another hour may fall in another speed band: asked again.
    await cached.trips({ lat: 48.86, lng: 2.35 }, [LEFT_BANK], AT + HOUR);
    expect(calls).toHaveLength(2);
  });

  it("follow each store's own zone speed", async () => {
    const slowZone = latLngToCell(LEFT_BANK.location.lat, LEFT_BANK.location.lng, GEO.h3Resolution);
    const table = ZoneSpeedTable.fromJSON({
      ...ZoneSpeedTable.defaults(18, 'Europe/Paris', GEO.h3Resolution).toJSON(),
      zones: { [slowZone]: Array.from({ length: BAND_COUNT }, () => 7) },
    });
    if (!table.ok) throw new Error(table.error);
    const service = new GeoService(GEO);
    service.setSpeeds(table.value);
    const { geo } = countedGeo(service);
    const cached = cachedGeo(geo);
    for (const destination of around({ lat: 48.87, lng: 2.345 }, 20)) {
      const got = await cached.trips(destination, [LEFT_BANK, NORTH], AT);
      const want = await service.trips(destination, [LEFT_BANK, NORTH], AT);
      expect(got.map((t) => t.travelSeconds)).toEqual(want.map((t) => expect.closeTo(t.travelSeconds, 6)));
      expect(got[0]!.zoneSpeedKmh).toBe(7);
      expect(got[1]!.zoneSpeedKmh).not.toBe(7);
    }
  });

  it('ask geo again for rider supply once an entry is past its TTL and grace', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(AT);
    const { service, geo } = countedGeo();
    const cached = cachedGeo(geo, { ttlMs: { geoTrips: 60_000 } });
    const near = LEFT_BANK.location;
    service.recordRiderLocation('r-1', near.lat, near.lng, AT, true);
    const destination = { lat: 48.86, lng: 2.35 };
    expect((await cached.trips(destination, [LEFT_BANK], AT))[0]!.ridersAvailable).toBe(1);
    service.recordRiderLocation('r-2', near.lat, near.lng, AT + 1000, true);
    vi.setSystemTime(AT + 30_000);
    expect((await cached.trips(destination, [LEFT_BANK], AT + 30_000))[0]!.ridersAvailable).toBe(1);
    vi.setSystemTime(AT + 91_000);
    expect((await cached.trips(destination, [LEFT_BANK], AT + 91_000))[0]!.ridersAvailable).toBe(2);
  });

  it('answer a destination at the store itself straight from geo', async () => {
    const { service, geo, calls } = countedGeo();
    const cached = cachedGeo(geo);
    const [here] = await cached.trips(LEFT_BANK.location, [LEFT_BANK], AT);
    expect(here).toEqual((await service.trips(LEFT_BANK.location, [LEFT_BANK], AT))[0]);
    expect(here!.distanceKm).toBe(0);
    await cached.trips({ lat: 48.86, lng: 2.35 }, [LEFT_BANK], AT);
    await cached.trips({ lat: 48.87, lng: 2.34 }, [LEFT_BANK], AT);
    // The first asks twice (no slope to learn from the store itself), the second learns it, the third is cached.
    expect(calls).toHaveLength(3);
  });

  it('take distance and the delivery radius to the exact destination', async () => {
    const { geo } = countedGeo();
    const cached = cachedGeo(geo);
    const [a, b] = [
      { lat: 48.864, lng: 2.352 },
      { lat: 48.864, lng: 2.349 },
    ];
    const [toA] = await cached.trips(a, [LEFT_BANK], AT);
    const [toB] = await cached.trips(b, [LEFT_BANK], AT);
    expect(toA!.distanceKm).toBeCloseTo(haversineKm(LEFT_BANK.location, a), 9);
    expect(toB!.distanceKm).toBeCloseTo(haversineKm(LEFT_BANK.location, b), 9);
    const tight = { ...LEFT_BANK, radiusKm: (toA!.distanceKm + toB!.distanceKm) / 2 };
    const [aIn] = await cached.trips(a, [tight], AT);
    const [bIn] = await cached.trips(b, [tight], AT);
    expect([aIn!.withinRadius, bIn!.withinRadius].sort()).toEqual([false, true]);
  });
});
