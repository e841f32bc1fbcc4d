import type { LatLng } from '../features/index.js';
import type { CallOptions, HttpClient } from '../platform/index.js';
import { GEO_ROUTE_PREFIX } from './routes.js';
import type { RidersBody, RidersResponse, TripsBody, TripsResponse } from './schemas.js';
import type { GeoFeatures, GeoTerms, TripEstimate, TripOrigin, TripsAndTerms } from './types.js';

export interface RiderLocation {
  riderId: string;
  lat: number;
  lng: number;
  atMs: number;
  available: boolean;
}

/** `GeoFeatures` of a remote geo module: the consumer cannot tell it from the in-process one. */
export class GeoClient implements GeoFeatures, GeoTerms {
  constructor(
    private readonly http: HttpClient,
    private readonly call: CallOptions = {},
  ) {}

  async trips(destination: LatLng, origins: readonly TripOrigin[], atMs: number): Promise<TripEstimate[]> {
    return (await this.tripsAndTerms(destination, origins, atMs)).trips;
  }

  /** The terms come as geo sent them, in the in-process shape; a geo older than them sends none. */
  async tripsAndTerms(
    destination: LatLng,
    origins: readonly TripOrigin[],
    atMs: number,
  ): Promise<TripsAndTerms> {
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
    return {
      trips: res.trips.map((t) => ({
        id: t.id,
        distanceKm: t.distance_km,
        travelSeconds: t.travel_seconds,
        zoneSpeedKmh: t.zone_speed_kmh,
        ridersAvailable: t.riders_available,
        withinRadius: t.within_radius,
      })),
      terms: res.terms ?? [],
    };
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
