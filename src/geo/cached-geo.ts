import { Value } from 'typebox/value';
import type { CacheKeys, Codec, TieredCache } from '../cache/index.js';
import type { LatLng } from '../features/index.js';
import { EtaError } from '../platform/index.js';
import { TravelTermsJson } from './schemas.js';
import { tripFrom } from './travel.js';
import type { GeoFeatures, GeoTerms, TravelTerms, TripEstimate, TripOrigin } from './types.js';

/**
 * `geo-trips` entries as JSON. An entry that is not a `TravelTerms` (one an older version wrote in another shape)
 * is a miss, never a trip computed from missing terms.
 */
export const travelTermsCodec: Codec<TravelTerms> = {
  encode: (terms) => JSON.stringify(terms),
  decode: (text) => {
    const value: unknown = JSON.parse(text);
    if (!Value.Check(TravelTermsJson, value)) throw new Error('geo-trips: not travel terms');
    return value;
  },
};

/**
 * Geo trip estimates through the `geo-trips` cache, one entry per store and hour (`CacheKeys.geoTravel`), whatever
 * the destination. A miss asks geo for the trips to this order's destination, which come with each store's terms
 * (handoff, detour, zone speed, rider supply); every later order to that store in the hour gets geo's estimate to
 * its exact destination, computed here by geo's own formula (`tripFrom`). The entry's TTL bounds the age of its
 * rider supply.
 */
export class CachedGeo implements GeoFeatures {
  constructor(
    private readonly geo: GeoTerms,
    private readonly cache: TieredCache<TravelTerms>,
    private readonly keys: CacheKeys,
  ) {}

  async trips(destination: LatLng, origins: readonly TripOrigin[], atMs: number): Promise<TripEstimate[]> {
    const keys = origins.map((o) => this.keys.geoTravel(o.id, atMs));
    // Trips this call's own load got without terms (from a geo older than them): answered as geo gave them.
    const bare = new Map<string, TripEstimate>();
    const found = await this.cache.getOrLoadMany(keys, async (missing) => {
      const wanted = missing.map((k) => origins[keys.indexOf(k)]!);
      const { trips, terms } = await this.geo.tripsAndTerms(destination, wanted, atMs);
      const out = new Map<string, TravelTerms>();
      missing.forEach((key, i) => {
        if (terms[i]) out.set(key, terms[i]);
        else if (trips[i]) bare.set(key, trips[i]);
      });
      return out;
    });
    // Stores another caller's load left without terms: geo answers them as is.
    const direct = origins.filter((_, i) => !found.has(keys[i]!) && !bare.has(keys[i]!));
    const asked = direct.length > 0 ? (await this.geo.tripsAndTerms(destination, direct, atMs)).trips : [];
    const answered = new Map(asked.map((t, i) => [direct[i]!.id, t]));
    return origins.map((o, i): TripEstimate => {
      const terms = found.get(keys[i]!);
      if (terms) return tripFrom(o, destination, terms);
      const trip = bare.get(keys[i]!) ?? answered.get(o.id);
      if (!trip) throw new EtaError('upstream_unavailable', `geo gave no estimate for store ${o.id}`);
      return trip;
    });
  }
}
