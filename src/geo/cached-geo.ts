import type { CacheKeys, TieredCache } from '../cache/index.js';
import { haversineKm, type LatLng } from '../features/index.js';
import type { GeoFeatures, TripEstimate, TripOrigin } from './types.js';
import { EtaError } from '../platform/index.js';

/**
 * What a store's trips share within an hour: geo's estimate is the handoff plus the straight-line distance times
 * seconds per km (the detour over the store zone's speed in that hour's band; src/geo/travel.ts), so these terms
 * give geo's own estimate to any destination.
 */
export interface TravelTerms {
  handoffSeconds: number;
  secondsPerKm: number;
  zoneSpeedKmh: number;
  /** Riders free near the store when the terms were loaded; null when unknown. */
  ridersAvailable: number | null;
}

/** A destination this close to the store gives no slope to learn from; its trip is asked for directly. */
const MIN_SLOPE_KM = 0.001;
/** A zero-length trip in the same call: its estimate is the handoff alone. */
const PROBE_ID = 'etaserve-handoff-probe';

/**
 * Geo trip estimates through the `geo-trips` cache, one entry per store and hour (`CacheKeys.geoTravel`), whatever
 * the destination. A miss asks geo for the trips to this order's destination plus a zero-length one; each store's
 * terms follow from its answer, and every later order to that store in the hour gets geo's estimate to its exact
 * destination, computed here. The entry's TTL bounds the age of its rider supply.
 */
export class CachedGeo implements GeoFeatures {
  constructor(
    private readonly geo: GeoFeatures,
    private readonly cache: TieredCache<TravelTerms>,
    private readonly keys: CacheKeys,
  ) {}

  async trips(destination: LatLng, origins: readonly TripOrigin[], atMs: number): Promise<TripEstimate[]> {
    const keys = origins.map((o) => this.keys.geoTravel(o.id, atMs));
    const found = await this.cache.getOrLoadMany(keys, async (missing) => {
      const wanted = missing.map((k) => origins[keys.indexOf(k)]!);
      const probe: TripOrigin = { id: PROBE_ID, location: destination, radiusKm: 0 };
      const trips = await this.geo.trips(destination, [...wanted, probe], atMs);
      const handoffSeconds = trips[wanted.length]?.travelSeconds;
      const out = new Map<string, TravelTerms>();
      if (handoffSeconds === undefined) return out;
      wanted.forEach((_, i) => {
        const trip = trips[i];
        if (!trip || !(trip.distanceKm >= MIN_SLOPE_KM)) return;
        out.set(missing[i]!, {
          handoffSeconds,
          secondsPerKm: (trip.travelSeconds - handoffSeconds) / trip.distanceKm,
          zoneSpeedKmh: trip.zoneSpeedKmh,
          ridersAvailable: trip.ridersAvailable,
        });
      });
      return out;
    });
    // Stores whose terms could not be learnt from this destination (or another caller's): geo answers them as is.
    const direct = origins.filter((_, i) => !found.has(keys[i]!));
    const asked = direct.length > 0 ? await this.geo.trips(destination, direct, atMs) : [];
    const answered = new Map(asked.map((t, i) => [direct[i]!.id, t]));
    return origins.map((o, i): TripEstimate => {
      const terms = found.get(keys[i]!);
      if (!terms) {
        const trip = answered.get(o.id);
        if (!trip) throw new EtaError('upstream_unavailable', `geo gave no estimate for store ${o.id}`);
        return trip;
      }
      const distanceKm = haversineKm(o.location, destination);
      return {
        id: o.id,
        distanceKm,
        travelSeconds: terms.handoffSeconds + distanceKm * terms.secondsPerKm,
        zoneSpeedKmh: terms.zoneSpeedKmh,
        ridersAvailable: terms.ridersAvailable,
        withinRadius: distanceKm <= o.radiusKm,
      };
    });
  }
}
