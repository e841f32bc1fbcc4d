import type { LatLng } from '../features/index.js';
import type { RidersNear } from './rider-supply.js';

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

/**
 * Everything geo knows now about the trips from one origin, for any order time: `termsAt` (src/geo/travel.ts)
 * gives the terms at a time, exactly as geo computes them.
 */
export interface TravelSnapshot {
  handoffSeconds: number;
  detourFactor: number;
  /** The speed table's time zone, which decides an order time's hour band. */
  timezone: string;
  /** The origin zone's speed in each hour band (`hourBand`), km/h. */
  bandSpeedsKmh: number[];
  riders: RidersNear;
}

/** `trips` with, origin by origin, the terms each trip was computed from (the trips route's answer). */
export interface TripsAndTerms {
  trips: TripEstimate[];
  /** In the order of the origins. */
  terms: TravelTerms[];
}

/** One destination, many stores: one call for a whole list page. Answers in the order of `origins`. */
export interface GeoFeatures {
  trips(destination: LatLng, origins: readonly TripOrigin[], atMs: number): Promise<TripEstimate[]>;
  /**
   * Caches what later trips from these origins need, before a process turns ready; resolves to how many it holds.
   * Absent where nothing is cached.
   */
  warm?(origins: readonly Pick<TripOrigin, 'id' | 'location'>[]): Promise<number>;
}

/** Geo as its trip cache (`CachedGeo`) reads it: the in-process service or its remote client. */
export interface GeoTravel extends GeoFeatures {
  /** Each location's snapshot, in order; undefined from a geo older than snapshots. */
  travel(locations: readonly LatLng[]): Promise<TravelSnapshot[] | undefined>;
}
