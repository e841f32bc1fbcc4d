/**
 * The keys of the shared caches, built in one place so every service and replica agrees on them. Parts are joined
 * with ':'; an id containing ':' is escaped so two different tuples never make the same key.
 */
import { latLngToCell } from 'h3-js';

const part = (value: string | number): string => String(value).replaceAll('%', '%25').replaceAll(':', '%3A');
const join = (...parts: (string | number)[]): string => parts.map(part).join(':');

/** Start of the time bucket that `atMs` falls in, in ms since the epoch. */
export function timeBucket(atMs: number, bucketMs: number): number {
  return Math.floor(atMs / bucketMs) * bucketMs;
}

/**
 * Quarter hours of UTC are quarter hours in every timezone (every offset is a multiple of 15 minutes), so inside
 * one bucket every store's local hour and weekday, the model's only time features, are fixed: the time part of a
 * response key is exact. What ages inside a bucket (rider supply, a missed announcement) is bounded by the TTL.
 */
export const RESPONSE_TIME_BUCKET_MS = 15 * 60_000;
/**
 * H3 resolution 8: cells of about 0.74 km² (mean edge about 530 m). Orders to one cell (with alike baskets, in one
 * time bucket) share the answer computed for the first of them, so its distance may be off by up to the cell's
 * width. Resolution 9 (edge ~200 m) split the mix's destinations over so many cells that answers were rarely
 * shared; 7 would move answers by minutes. See docs/caching.md.
 */
export const DEFAULT_DESTINATION_RESOLUTION = 8;

/** A destination's H3 cell at the configured resolution; only `CacheKeys.destinationCell` makes one. */
export type DestinationCell = string & { readonly __destinationCell: unique symbol };

export interface ResponseKeyParts {
  storeId: string;
  destinationCell: DestinationCell;
  /** Order time, bucketed by RESPONSE_TIME_BUCKET_MS (UTC quarter hours). */
  atMs: number;
  /** Basket size bucket, as the gateway defines it (for example: items 1, 2-3, 4-7, 8+). */
  basketBucket: string | number;
  /** The model version that served: a promotion changes every key, so no invalidation is needed. */
  modelVersion: string;
}

/**
 * The generation that moves when a predictor starts serving another champion or challenger. The gateway learns which
 * version serves only from answers, so without it an answer cached under the old version would keep being read
 * until a miss taught it the new one. Not a store id: those never contain '*'.
 */
export const MODELS_GENERATION = '*models';

/** Where response keys read a store's change generation (the invalidation bus). */
export interface GenerationSource {
  /**
   * The store's change generation as this process last heard it (0 before any change); undefined while this
   * process cannot be sure it heard every change (the bus is down or not synced yet).
   */
  generation(storeId: string): number | undefined;
}

/** Response keys for one destination-cell resolution (`cache.destinationCellResolution`). */
export class CacheKeys {
  private generations: GenerationSource | undefined;
  private unsyncedWindowMs = 0;

  constructor(readonly destinationResolution: number = DEFAULT_DESTINATION_RESOLUTION) {
    if (!Number.isInteger(destinationResolution) || destinationResolution < 0 || destinationResolution > 15) {
      throw new Error(`cache: H3 resolution must be an integer 0-15, got ${destinationResolution}`);
    }
  }

  /**
   * From now on a response key ends with its store's change generation (and the models' one), so a change to the
   * store (live state, profile) moves its answers to new keys in every replica at once and the old ones are never
   * read again. While
   * the source is not sure of a generation, keys change every `unsyncedWindowMs` instead: answers then live no
   * longer than that, as if no change could be heard. Call only where every change of a store reaches `source`.
   */
  followGenerations(source: GenerationSource, unsyncedWindowMs: number): void {
    if (!(unsyncedWindowMs >= 1)) throw new Error('cache: unsyncedWindowMs must be at least 1 ms');
    this.generations = source;
    this.unsyncedWindowMs = unsyncedWindowMs;
  }

  destinationCell(destination: { lat: number; lng: number }): DestinationCell {
    return latLngToCell(destination.lat, destination.lng, this.destinationResolution) as DestinationCell;
  }

  /** `responses`: one ETA answer, shared by orders alike enough to get the same prediction. */
  response(p: ResponseKeyParts): string {
    const key = join(
      p.storeId,
      p.destinationCell,
      timeBucket(p.atMs, RESPONSE_TIME_BUCKET_MS),
      p.basketBucket,
      p.modelVersion,
    );
    if (!this.generations) return key;
    const store = this.generations.generation(p.storeId);
    const models = this.generations.generation(MODELS_GENERATION);
    if (store === undefined || models === undefined)
      return `${key}:u${Math.floor(Date.now() / this.unsyncedWindowMs)}`;
    return `${key}:g${store}.${models}`;
  }
}

/** `store-profiles`: one store. */
export function storeKey(storeId: string): string {
  return part(storeId);
}

/**
 * `store-live`: one store's live state for every order time (a snapshot). `w1`: processes of the version before
 * cached it per store and hour under other keys, and other values.
 */
export function storeLiveKey(storeId: string): string {
  return join('w1', storeId);
}

/**
 * `geo-trips`: one store's travel snapshot for every order time and destination, taken where the store is (a store
 * that moves gets a new entry at once). `t3`: processes of the versions before cached terms per store and hour
 * under other keys.
 */
export function geoTravelKey(storeId: string, location: { lat: number; lng: number }): string {
  return join('t3', storeId, `${location.lat},${location.lng}`);
}
