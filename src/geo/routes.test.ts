import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import {
  createHttpServer,
  createLogger,
  createMetrics,
  HttpClient,
  platformConfigSchema,
  type HttpServer,
  type PlatformConfig,
} from '../platform/index.js';
import { cacheConfigSchema, createCacheModule, type CacheConfig } from '../cache/index.js';
import { CachedGeo, travelSnapshotCodec } from './cached-geo.js';
import { GeoClient } from './client.js';
import { geoConfigSchema, type GeoConfig } from './config.js';
import { createGeoModule } from './module.js';
import { GEO_ROUTE_PREFIX } from './routes.js';
import type { GeoService } from './service.js';
import { defaultSpeedsFile, saveZoneSpeeds } from './speeds-file.js';
import { ZoneSpeedTable } from './travel.js';
import type { GeoTravel } from './types.js';

const PARIS = { lat: 48.8566, lng: 2.3522 };
const AT = Date.UTC(2026, 0, 14, 11, 30);

describe('geo HTTP', () => {
  let app: HttpServer;
  let dataDir: string;
  let client: GeoClient;
  let http: HttpClient;
  let metricsText: () => Promise<string>;
  let service: GeoService;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'geo-test-'));
    const logger = createLogger({ level: 'silent' });
    const metrics = createMetrics();
    metricsText = () => metrics.registry.metrics();
    const platform = Value.Default(platformConfigSchema, { dataDir }) as PlatformConfig;
    const config = Value.Default(geoConfigSchema, {}) as GeoConfig;
    const slow = ZoneSpeedTable.defaults(9, 'Europe/Paris', 7);
    await saveZoneSpeeds(defaultSpeedsFile(dataDir), slow);
    const geo = createGeoModule({ logger, metrics, platform }, config);
    await geo.service.start?.(new AbortController().signal);
    service = geo.geo;
    expect(geo.geo.speeds.toJSON().global).toEqual(slow.toJSON().global);
    app = createHttpServer({
      name: 'geo',
      logger,
      metrics,
      readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
    });
    await app.register(geo.routes, { prefix: GEO_ROUTE_PREFIX });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address() as { port: number };
    http = new HttpClient({ name: 'geo', baseUrl: `http://127.0.0.1:${address.port}`, timeoutMs: 2000 });
    client = new GeoClient(http);
  });

  afterAll(async () => {
    await http.close();
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers one trip per origin, in order', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `${GEO_ROUTE_PREFIX}/trips`,
      payload: {
        destination: PARIS,
        origins: [
          { id: 'near', location: { lat: 48.86, lng: 2.36 }, radius_km: 3 },
          { id: 'far', location: { lat: 48.95, lng: 2.5 }, radius_km: 3 },
        ],
        at_ms: AT,
      },
    });
    expect(res.statusCode).toBe(200);
    const trips = res.json().trips;
    expect(trips.map((t: { id: string }) => t.id)).toEqual(['near', 'far']);
    expect(trips[0].within_radius).toBe(true);
    expect(trips[1].within_radius).toBe(false);
    expect(trips[1].travel_seconds).toBeGreaterThan(trips[0].travel_seconds);
    expect(trips[0].riders_available).toBeNull();
  });

  it('rejects bad input with 400 naming the field', async () => {
    const bad = async (payload: unknown): Promise<{ status: number; field: string }> => {
      const res = await app.inject({
        method: 'POST',
        url: `${GEO_ROUTE_PREFIX}/trips`,
        payload: payload as object,
      });
      return { status: res.statusCode, field: res.json().error.field };
    };
    expect(
      await bad({ destination: { lat: 91, lng: 0 }, origins: [{ id: 'a', location: PARIS, radius_km: 1 }] }),
    ).toEqual({
      status: 400,
      field: 'destination.lat',
    });
    expect(await bad({ destination: PARIS, origins: [{ id: 'a', location: PARIS }] })).toEqual({
      status: 400,
      field: 'origins.0.radius_km',
    });
    expect(await bad({ destination: PARIS, origins: [] })).toMatchObject({ status: 400, field: 'origins' });
  });

  it('counts riders posted in a batch, and the client reads the same answers over HTTP', async () => {
    const accepted = await client.recordRiderLocations([
      { riderId: 'r1', lat: 48.86, lng: 2.36, atMs: AT - 1000, available: true },
      { riderId: 'r2', lat: 48.861, lng: 2.361, atMs: AT - 1000, available: true },
    ]);
    expect(accepted).toBe(2);
    const trips = await client.trips(
      PARIS,
      [{ id: 's-0001', location: { lat: 48.86, lng: 2.36 }, radiusKm: 3 }],
      AT,
    );
    expect(trips).toHaveLength(1);
    expect(trips[0]).toMatchObject({ id: 's-0001', ridersAvailable: 2, withinRadius: true });
    expect(trips[0]!.zoneSpeedKmh).toBeLessThan(9);
  });

  it("answers each origin's snapshot as the in-process service does; the cache over HTTP gives geo's trips at any time", async () => {
    const origins = [
      { id: 's-a', location: { lat: 48.86, lng: 2.36 }, radiusKm: 3 },
      { id: 's-b', location: { lat: 48.83, lng: 2.29 }, radiusKm: 5 },
    ];
    const remote = await client.travel(origins.map((o) => o.location));
    expect(remote).toEqual(service.travelSync(origins.map((o) => o.location)));
    expect(remote).toHaveLength(2);
    expect(remote![0]).toMatchObject({ handoffSeconds: 150, detourFactor: 1.3, timezone: 'Europe/Paris' });
    const cache = createCacheModule(
      {
        logger: createLogger({ level: 'silent' }),
        metrics: createMetrics(),
        platform: Value.Default(platformConfigSchema, {}) as PlatformConfig,
      },
      Value.Default(cacheConfigSchema, {}) as CacheConfig,
    );
    const asked: number[] = [];
    const counted: GeoTravel = {
      trips: (destination, wanted, atMs) => client.trips(destination, wanted, atMs),
      travel: (locations) => {
        asked.push(locations.length);
        return client.travel(locations);
      },
    };
    const cached = new CachedGeo(counted, cache.cacheFor('geo-trips', { codec: travelSnapshotCodec }));
    // Ten destinations at ten times over a week (several hour bands, riders known for some): one call.
    for (let i = 0; i < 10; i++) {
      const destination = { lat: 48.84 + i * 0.006, lng: 2.3 + ((i * 7) % 10) * 0.01 };
      const atMs = AT - 60_000 + i * 17 * 3_600_000;
      expect(await cached.trips(destination, origins, atMs)).toEqual(
        await service.trips(destination, origins, atMs),
      );
    }
    expect(asked).toEqual([2]);
  });

  it('a client of a geo without snapshots (an older version) says so rather than failing', async () => {
    const older = createHttpServer({
      name: 'geo',
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics(),
      readiness: () => ({ status: 'ready', ready: true, reasons: [] }),
    });
    await older.listen({ port: 0, host: '127.0.0.1' });
    const { port } = older.server.address() as { port: number };
    const olderHttp = new HttpClient({ name: 'geo', baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    try {
      expect(await new GeoClient(olderHttp).travel([PARIS])).toBeUndefined();
    } finally {
      await olderHttp.close();
      await older.close();
    }
  });

  it('refuses a travel request without origins or with a place off the map', async () => {
    const post = (payload: unknown) =>
      app.inject({ method: 'POST', url: `${GEO_ROUTE_PREFIX}/travel`, payload: payload as object });
    const empty = await post({ origins: [] });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.field).toBe('origins');
    const off = await post({ origins: [{ lat: 48.8, lng: 181 }] });
    expect(off.statusCode).toBe(400);
    expect(off.json().error.field).toBe('origins.0.lng');
  });

  it('exports rider supply and speed table gauges', async () => {
    const text = await metricsText();
    expect(text).toMatch(/etaserve_geo_riders_tracked\S* \d+/);
    expect(text).toMatch(/etaserve_geo_speed_table_trips\S* 0/);
  });

  it('answers a malformed rider batch with 400', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `${GEO_ROUTE_PREFIX}/riders`,
      payload: { riders: [{ rider_id: 'r1', lat: 48, lng: 2, at_ms: 'now', available: true }] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.field).toBe('riders.0.at_ms');
  });
});
