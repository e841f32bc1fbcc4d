import type { LatLng } from '../features/index.js';
import type { CallOptions, HttpClient } from '../platform/index.js';
import { GEO_ROUTE_PREFIX } from './routes.js';
import type { RidersBody, RidersResponse, TripsBody, TripsResponse } from './schemas.js';
import type { GeoFeatures, TripEstimate, TripOrigin } from './types.js';

export interface RiderLocation {
  riderId: string;
  lat: number;
  lng: number;
  atMs: number;
  available: boolean;
}

/** `GeoFeatures` of a remote geo module: the consumer cannot tell it from the in-process one. */
export class GeoClient implements GeoFeatures {
  constructor(
    private readonly http: HttpClient,
    private readonly call: CallOptions = {},
  ) {}

  async trips(destination: LatLng, origins: readonly TripOrigin[], atMs: number): Promise<TripEstimate[]> {
    const body: TripsBody = {
      destination: { lat: destination.lat, lng: destination.lng },
      origins: origins.map((o) => ({
        id: o.id,
        location: { lat: o.location.lat, lng: o.location.lng },
        radius_km: o.radiusKm,
      })),
      at_ms: atMs,
    };
    const res = await this.http.request<TripsResponse>('POST', `${GEO_ROUTE_PREFIX}/trips`, body, this.call);
    return res.trips.map((t) => ({
      id: t.id,
      distanceKm: t.distance_km,
      travelSeconds: t.travel_seconds,
      zoneSpeedKmh: t.zone_speed_kmh,
      ridersAvailable: t.riders_available,
      withinRadius: t.within_radius,
    }));
  }

  async recordRiderLocations(locations: readonly RiderLocation[]): Promise<number> {
    const body: RidersBody = {
      riders: locations.map((r) => ({
        rider_id: r.riderId,
        lat: r.lat,
        lng: r.lng,
        at_ms: r.atMs,
        available: r.available,
      })),
    };
    const res = await this.http.request<RidersResponse>(
      'POST',
      `${GEO_ROUTE_PREFIX}/riders`,
      body,
      this.call,
    );
    return res.accepted;
  }
}
