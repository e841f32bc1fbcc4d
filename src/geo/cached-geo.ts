import { Value } from 'typebox/value';
import { geoTravelKey, type Codec, type TieredCache } from '../cache/index.js';
import type { LatLng } from '../features/index.js';
import { chunks, EtaError } from '../platform/index.js';
import { TravelSnapshotJson } from './schemas.js';
import { termsAt, tripFrom } from './travel.js';
import type { GeoFeatures, GeoTravel, TravelSnapshot, TripEstimate, TripOrigin } from './types.js';

/**
 * `geo-trips` entries as JSON. An entry that is not a `TravelSnapshot` (one an older version wrote in another shape)
 * is a miss, never a trip computed from missing terms.
 */
export const travelSnapshotCodec: Codec<TravelSnapshot> = {
  encode: (snapshot) => JSON.stringify(snapshot),
  decode: (text) => {
    const value: unknown = JSON.parse(text);
    if (!Value.Check(TravelSnapshotJson, value)) throw new Error('geo-trips: not a travel snapshot');
    return value;
  },
};

/** Stores per geo call while warming. */
const WARM_PAGE = 100;

/**
 * Geo trip estimates through the `geo-trips` cache, one entry per store (and place: a store that moves is a new
 * entry), whatever the destination and the order time. A miss asks geo for the store's snapshot (handoff, detour,
 * its zone's speed in every hour band, the riders near it); every order to that store then gets geo's estimate to
 * its exact destination at its exact time, computed here by geo's own rules (`termsAt`, `tripFrom`). The entry's
 * TTL bounds the age of its rider supply.
 */
export class CachedGeo implements GeoFeatures {
  constructor(
    private readonly geo: GeoTravel,
    private readonly cache: TieredCache<TravelSnapshot>,
  ) {}

  async trips(destination: LatLng, origins: readonly TripOrigin[], atMs: number): Promise<TripEstimate[]> {
    const snapshots = await this.snapshots(origins);
    // Stores left without a snapshot (a geo older than them): geo answers their trips as is.
    const direct = origins.filter((_, i) => !snapshots[i]);
    const asked = direct.length > 0 ? await this.geo.trips(destination, direct, atMs) : [];
    const answered = new Map(asked.map((t, i) => [direct[i]!.id, t]));
    return origins.map((o, i): TripEstimate => {
      const snapshot = snapshots[i];
      if (snapshot) return tripFrom(o, destination, termsAt(snapshot, atMs));
      const trip = answered.get(o.id);
      if (!trip) throw new EtaError('upstream_unavailable', `geo gave no estimate for store ${o.id}`);
      return trip;
    });
  }

  /**
   * Caches the stores' snapshots (before a process turns ready); resolves to how many it holds. One page at a time,
   * each a call of the serving path's size, so a geo as cold as this process answers within its deadline.
   */
  async warm(origins: readonly Pick<TripOrigin, 'id' | 'location'>[]): Promise<number> {
    let held = 0;
    for (const page of chunks(origins, WARM_PAGE))
      held += (await this.snapshots(page)).filter((s) => s !== undefined).length;
    return held;
  }

  /** Each origin's snapshot, in order; undefined where a geo older than snapshots left it without one. */
  private async snapshots(
    origins: readonly Pick<TripOrigin, 'id' | 'location'>[],
  ): Promise<Array<TravelSnapshot | undefined>> {
    const keys = origins.map((o) => geoTravelKey(o.id, o.location));
    const found = await this.cache.getOrLoadMany(keys, async (missing) => {
      const snapshots = await this.geo.travel(missing.map((k) => origins[keys.indexOf(k)]!.location));
      return new Map(snapshots ? missing.map((k, i) => [k, snapshots[i]!]) : []);
    });
    return keys.map((k) => found.get(k));
  }
}
