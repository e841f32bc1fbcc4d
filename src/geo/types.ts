import type { LatLng } from '../features/index.js';

export interface TripOrigin {
  /** Caller's key, echoed back (a store id). */
  id: string;
  location: LatLng;
  /** Delivery radius; the answer says whether the destination is within it. */
  radiusKm: number;
}

export interface TripEstimate {
  id: string;
  distanceKm: number;
  travelSeconds: number;
  zoneSpeedKmh: number;
  /** Riders free in the store's zone; null when unknown. */
  ridersAvailable: number | null;
  withinRadius: boolean;
}

/** One destination, many stores: one call for a whole list page. Answers in the order of `origins`. */
export interface GeoFeatures {
  trips(destination: LatLng, origins: readonly TripOrigin[], atMs: number): Promise<TripEstimate[]>;
}
