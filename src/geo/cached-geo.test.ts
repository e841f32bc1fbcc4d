import { latLngToCell } from 'h3-js';
import { Value } from 'typebox/value';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  cacheConfigSchema,
  cacheMetrics,
  createCacheModule,
  geoTravelKey,
  MemoryL2,
  TieredCache,
  type CacheConfig,
} from '../cache/index.js';
import { haversineKm, type LatLng } from '../features/index.js';
import {
  BAND_COUNT,
  geoConfigSchema,
  GeoService,
  ZoneSpeedTable,
  type GeoConfig,
  type GeoTravel,
  type TravelSnapshot,
  type TripOrigin,
} from './index.js';
import {
  createLogger,
  createMetrics,
  platformConfigSchema,
  Registry,
  type PlatformConfig,
} from '../platform/index.js';
import { CachedGeo, travelSnapshotCodec } from './cached-geo.js';

const GEO = Value.Default(geoConfigSchema, {}) as GeoConfig;
const LEFT_BANK: TripOrigin = { id: 's-1', location: { lat: 48.85, lng: 2.33 }, radiusKm: 8 };
const NORTH: TripOrigin = { id: 's-2', location: { lat: 48.885, lng: 2.36 }, radiusKm: 8 };
const AT = Date.UTC(2026, 10, 26, 18, 5);
const HOUR = 3_600_000;

/** The real geo service, counting the calls that reach it (each call: the places it was asked about). */
function countedGeo(service = new GeoService(GEO)) {
  const calls: LatLng[][] = [];
  const geo: GeoTravel = {
    trips: () => Promise.reject(new Error('a geo with snapshots is never asked for trips')),
    travel: (locations) => {
      calls.push([...locations]);
      return service.travel(locations);
    },
  };
  return { service, geo, calls };
}

function cachedGeo(geo: GeoTravel, section: Record<string, unknown> = {}): CachedGeo {
  const ctx = {
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ target: 't' }),
    platform: Value.Default(platformConfigSchema, {}) as PlatformConfig,
  };
  const cache = createCacheModule(ctx, Value.Default(cacheConfigSchema, section) as CacheConfig);
  return new CachedGeo(geo, cache.cacheFor('geo-trips', { codec: travelSnapshotCodec }));
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
  it("give every destination at every order time geo's own estimate, asking geo once per store", async () => {
    const { service, geo, calls } = countedGeo();
    service.setSpeeds(learnedSpeeds());
    const near = NORTH.location;
    service.recordRiderLocation('r-1', near.lat, near.lng, AT - 1000, true);
    const cached = cachedGeo(geo);
    const bands = new Set<number>();
    for (const [i, destination] of around({ lat: 48.865, lng: 2.345 }, 60).entries()) {
      // Order times over a week, every speed band, riders counted for the first few minutes only.
      const atMs = AT + (i < 5 ? i * 60_000 : i * 7 * HOUR + 13 * 60_000);
      const got = await cached.trips(destination, [LEFT_BANK, NORTH], atMs);
      expect(got).toEqual(await service.trips(destination, [LEFT_BANK, NORTH], atMs));
      bands.add(got[0]!.zoneSpeedKmh);
    }
    expect(bands.size).toBeGreaterThan(4);
    expect(calls).toEqual([[LEFT_BANK.location, NORTH.location]]);
    // A store that moved is asked about where it is now.
    const moved = { ...LEFT_BANK, location: { lat: 48.84, lng: 2.32 } };
    const destination = { lat: 48.86, lng: 2.35 };
    expect(await cached.trips(destination, [moved], AT)).toEqual(
      await service.trips(destination, [moved], AT),
    );
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
      expect(got).toEqual(await service.trips(destination, [LEFT_BANK, NORTH], AT));
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

  it('answer a destination at the store itself, as any other, from one snapshot', async () => {
    const { service, geo, calls } = countedGeo();
    const cached = cachedGeo(geo);
    const [here] = await cached.trips(LEFT_BANK.location, [LEFT_BANK], AT);
    expect(here).toEqual((await service.trips(LEFT_BANK.location, [LEFT_BANK], AT))[0]);
    expect(here!.distanceKm).toBe(0);
    const elsewhere = { lat: 48.86, lng: 2.35 };
    expect(await cached.trips(elsewhere, [LEFT_BANK], AT)).toEqual(
      await service.trips(elsewhere, [LEFT_BANK], AT),
    );
    expect(calls).toHaveLength(1);
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

/** Stores around Paris, some in zones with speeds of their own. */
const STORES: TripOrigin[] = [
  LEFT_BANK,
  NORTH,
  { id: 's-3', location: { lat: 48.83, lng: 2.29 }, radiusKm: 5 },
  { id: 's-4', location: { lat: 48.87, lng: 2.4 }, radiusKm: 3 },
  { id: 's-5', location: { lat: 48.9, lng: 2.25 }, radiusKm: 6 },
  { id: 's-6', location: { lat: 48.8566, lng: 2.3522 }, radiusKm: 2.5 },
];
/** Every hour band: each part of the day (Paris time, UTC+1 in January) on a Wednesday and a Saturday. */
const TIMES = [2, 7, 11, 14, 18, 21].flatMap((hourUtc, i) => [
  Date.UTC(2026, 0, 14, hourUtc, 7 + 5 * i),
  Date.UTC(2026, 0, 17, hourUtc, 53 - 5 * i),
]);

/** Learned speeds: a zone of its own for most stores, each with its own speed per band. */
function learnedSpeeds(): ZoneSpeedTable {
  const zones = Object.fromEntries(
    STORES.slice(0, 4).map((s, z) => [
      latLngToCell(s.location.lat, s.location.lng, GEO.h3Resolution),
      Array.from({ length: BAND_COUNT }, (_, b) => (b % 3 === z % 3 ? null : 6 + ((z * 7 + b * 5) % 19))),
    ]),
  );
  const table = ZoneSpeedTable.fromJSON({
    ...ZoneSpeedTable.defaults(18, 'Europe/Paris', GEO.h3Resolution).toJSON(),
    zones,
  });
  if (!table.ok) throw new Error(table.error);
  return table.value;
}

/**
 * Geo as a peer that knows only the shop's stores: it refuses any other place, and records which stores it is asked
 * about.
 */
function storesOnlyGeo(service: GeoService) {
  const asked: string[] = [];
  const geo: GeoTravel = {
    trips: () => Promise.reject(new Error('a geo with snapshots is never asked for trips')),
    travel: async (locations) => {
      for (const l of locations) {
        const store = STORES.find((s) => s.location.lat === l.lat && s.location.lng === l.lng);
        if (!store) throw new Error(`geo was asked about a place that is no store: ${l.lat},${l.lng}`);
        asked.push(store.id);
      }
      return service.travel(locations);
    },
  };
  return { geo, asked };
}

describe('geo trips through the cache, against geo without it', () => {
  it('are the same trips for every destination, set of stores and time, and ask only about the stores', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const service = new GeoService(GEO);
    service.setSpeeds(learnedSpeeds());
    const { geo, asked } = storesOnlyGeo(service);
    const cached = cachedGeo(geo);
    const destinations = [...around({ lat: 48.865, lng: 2.34 }, 24), ...STORES.map((s) => s.location)];
    let compared = 0;
    const speeds = new Set<number>();
    const supply = new Set<number | null>();
    // In time order, hours apart: each time's riders are news to a cache whose entries are past their TTL.
    for (const [t, atMs] of [...TIMES].sort((a, b) => a - b).entries()) {
      vi.setSystemTime(atMs);
      // Riders near some stores, reported just before the orders: supply differs by store and time.
      STORES.forEach((s, i) => {
        if ((i + t) % 3 === 0) return;
        for (let r = 0; r <= (i + t) % 4; r++)
          service.recordRiderLocation(
            `r-${i}-${r}`,
            s.location.lat,
            s.location.lng,
            atMs - 1000,
            r % 3 !== 2,
          );
      });
      for (const [d, destination] of destinations.entries()) {
        // A rotating, reordered subset of the stores, at the time or minutes either side of it.
        const origins = [...STORES.slice(d % 4, (d % 4) + 3), STORES[(d + t) % STORES.length]!];
        if (d % 2) origins.reverse();
        const orderedAtMs = atMs + ((d % 5) - 2) * 60_000;
        const got = await cached.trips(destination, origins, orderedAtMs);
        const want = await service.trips(destination, origins, orderedAtMs);
        expect(got).toEqual(want);
        for (const trip of want) {
          speeds.add(trip.zoneSpeedKmh);
          supply.add(trip.ridersAvailable);
        }
        compared += got.length;
      }
    }
    expect(compared).toBe(TIMES.length * 30 * 4);
    // The stores' own zone speeds and the global ones by band, and rider supply that differs by store and time.
    expect(speeds.size).toBeGreaterThan(BAND_COUNT);
    expect(supply.size).toBeGreaterThan(3);
    // Each store once per time (its entry had expired), whatever the destinations and order times.
    expect(asked.length).toBe(TIMES.length * STORES.length);
    expect(new Set(asked).size).toBe(STORES.length);
  });

  it('are checked against a geo double that refuses a place that is no store', async () => {
    const { geo } = storesOnlyGeo(new GeoService(GEO));
    await expect(geo.travel([{ lat: 48.7, lng: 2.1 }])).rejects.toThrow(/no store/);
  });

  it('from a geo older than snapshots are its own trips, one call per order, nothing cached', async () => {
    const service = new GeoService(GEO);
    const calls: number[] = [];
    const older: GeoTravel = {
      trips: async (destination, origins, atMs) => {
        calls.push(origins.length);
        return service.trips(destination, origins, atMs);
      },
      travel: async () => undefined,
    };
    const cached = cachedGeo(older);
    for (const destination of around({ lat: 48.865, lng: 2.345 }, 3)) {
      expect(await cached.trips(destination, [LEFT_BANK, NORTH], AT)).toEqual(
        await service.trips(destination, [LEFT_BANK, NORTH], AT),
      );
    }
    expect(calls).toEqual([2, 2, 2]);
  });

  it('read an entry of another shape in the shared level as a miss', async () => {
    const l2 = new MemoryL2();
    const tiered = <V>(codec?: typeof travelSnapshotCodec) =>
      new TieredCache<V>({
        name: 'geo-trips',
        ttlMs: 60_000,
        l1MaxBytes: 1 << 20,
        refresh: { graceRatio: 0.5, xfetchBeta: 0 },
        metrics: cacheMetrics(new Registry()),
        l2,
        ...(codec ? { codec: codec as never } : {}),
      });
    // Terms of one hour under this store's key, as a version that kept them so would have written.
    const older = tiered<unknown>();
    const oldShape = { handoffSeconds: 150, detourFactor: 1.3, zoneSpeedKmh: 15.3, ridersAvailable: null };
    await older.getOrLoad(geoTravelKey(LEFT_BANK.id, LEFT_BANK.location), async () => oldShape);
    await vi.waitFor(() => expect(l2.size).toBe(1));
    const { service, geo, calls } = countedGeo();
    const cached = new CachedGeo(geo, tiered<TravelSnapshot>(travelSnapshotCodec));
    const destination = { lat: 48.86, lng: 2.35 };
    expect(await cached.trips(destination, [LEFT_BANK], AT)).toEqual(
      await service.trips(destination, [LEFT_BANK], AT),
    );
    expect(calls).toHaveLength(1);
  });
});
