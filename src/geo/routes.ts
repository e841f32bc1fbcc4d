import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Server } from 'node:http';
import type { Logger } from '../platform/index.js';
import {
  ErrorResponse,
  RidersBody,
  RidersResponse,
  TravelBody,
  TravelResponse,
  TripsBody,
  TripsResponse,
} from './schemas.js';
import type { GeoService } from './service.js';

/** Register with `{ prefix: GEO_ROUTE_PREFIX }`; `GeoClient` calls these paths. */
export const GEO_ROUTE_PREFIX = '/internal/geo';

export type GeoRoutes = FastifyPluginAsync<Record<never, never>, Server, TypeBoxTypeProvider, Logger>;

export function geoRoutes(geo: GeoService): GeoRoutes {
  return async (app) => {
    app.post(
      '/trips',
      { schema: { body: TripsBody, response: { 200: TripsResponse, 400: ErrorResponse } } },
      async (req) => {
        const { destination, origins, at_ms } = req.body;
        const atMs = at_ms ?? Date.now();
        const { trips, terms } = geo.tripsAndTermsSync(
          destination,
          origins.map((o) => ({ id: o.id, location: o.location, radiusKm: o.radius_km })),
          atMs,
        );
        return {
          trips: trips.map((t) => ({
            id: t.id,
            distance_km: t.distanceKm,
            travel_seconds: t.travelSeconds,
            zone_speed_kmh: t.zoneSpeedKmh,
            riders_available: t.ridersAvailable,
            within_radius: t.withinRadius,
          })),
          terms,
        };
      },
    );

    app.post(
      '/travel',
      { schema: { body: TravelBody, response: { 200: TravelResponse, 400: ErrorResponse } } },
      async (req) => ({ snapshots: geo.travelSync(req.body.origins) }),
    );

    app.post(
      '/riders',
      { schema: { body: RidersBody, response: { 200: RidersResponse, 400: ErrorResponse } } },
      async (req) => {
        for (const r of req.body.riders)
          geo.recordRiderLocation(r.rider_id, r.lat, r.lng, r.at_ms, r.available);
        return { accepted: req.body.riders.length };
      },
    );
  };
}
