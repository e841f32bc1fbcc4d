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

/**
 * What every trip from one origin at one time shares, whatever the destination: with the straight-line distance,
 * `tripFrom` (src/geo/travel.ts) makes geo's estimate of it, the one formula geo itself answers with.
 */
export interface TravelTerms {
  /** Leaving the store, parking and handing over at the door. */
  handoffSeconds: number;
  /** Road distance over straight-line distance. */
  detourFactor: number;
  /** The speed of the origin's zone in the hour band of the time. */
  zoneSpeedKmh: number;
  /** Riders free near the origin at the time; null when unknown. */
  ridersAvailable: number | null;
}

/** `trips` with, origin by origin, the terms each trip was computed from. */
export interface TripsAndTerms {
  trips: TripEstimate[];
  /**
   * In the order of the origins. A geo older than the terms answers none: its trips stand alone, and the trip
   * cache keeps nothing from them.
   */
  terms: TravelTerms[];
}

/** One destination, many stores: one call for a whole list page. Answers in the order of `origins`. */
export interface GeoFeatures {
  trips(destination: LatLng, origins: readonly TripOrigin[], atMs: number): Promise<TripEstimate[]>;
}

/** Geo as its trip cache (`CachedGeo`) reads it: the in-process service or its remote client. */
export interface GeoTerms {
  tripsAndTerms(destination: LatLng, origins: readonly TripOrigin[], atMs: number): Promise<TripsAndTerms>;
}
