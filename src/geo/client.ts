import type { LatLng } from '../features/index.js';
import { chunks, EtaError, type CallOptions, type HttpClient } from '../platform/index.js';
import { GEO_ROUTE_PREFIX } from './routes.js';
import {
  MAX_ORIGINS,
  type RidersBody,
  type RidersResponse,
  type TravelBody,
  type TravelResponse,
  type TripsBody,
  type TripsResponse,
} from './schemas.js';
import type { GeoTravel, TravelSnapshot, TripEstimate, TripOrigin } from './types.js';

export interface RiderLocation {
  riderId: string;
  lat: number;
  lng: number;
  atMs: number;
  available: boolean;
}

/** `GeoFeatures` of a remote geo module: the consumer cannot tell it from the in-process one. */
export class GeoClient implements GeoTravel {
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

  /** The snapshots come as geo sent them, in the in-process shape; a geo older than them has no such route. */
  async travel(locations: readonly LatLng[]): Promise<TravelSnapshot[] | undefined> {
    const ask = (page: readonly LatLng[]): Promise<TravelResponse> => {
      const body: TravelBody = { origins: page.map((l) => ({ lat: l.lat, lng: l.lng })) };
      return this.http.request<TravelResponse>('POST', `${GEO_ROUTE_PREFIX}/travel`, body, this.call);
    };
    try {
      const pages = await Promise.all(chunks(locations, MAX_ORIGINS).map(ask));
      return pages.flatMap((p) => p.snapshots);
    } catch (e) {
      if (e instanceof EtaError && e.code === 'not_found') return undefined;
      throw e;
    }
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
