/**
 * The keys of the shared caches, built in one place so every service and replica agrees on them. Parts are joined
 * with ':'; an id containing ':' is escaped so two different tuples never make the same key.
 */

const part = (value: string | number): string => String(value).replaceAll('%', '%25').replaceAll(':', '%3A');
const join = (...parts: (string | number)[]): string => parts.map(part).join(':');

/** Start of the time bucket that `atMs` falls in, in ms since the epoch. */
export function timeBucket(atMs: number, bucketMs: number): number {
  return Math.floor(atMs / bucketMs) * bucketMs;
}

export const RESPONSE_TIME_BUCKET_MS = 5 * 60_000;

export interface ResponseKeyParts {
  storeId: string;
  /** H3 resolution-9 cell of the destination (about 0.1 km²). */
  destinationCell: string;
  /** Order time, bucketed by RESPONSE_TIME_BUCKET_MS. */
  atMs: number;
  /** Basket size bucket, as the gateway defines it (for example: items 1, 2-3, 4-7, 8+). */
  basketBucket: string | number;
  /** The model version that serves now: a promotion changes every key, so no invalidation is needed. */
  modelVersion: string;
}

/** `responses`: one ETA answer, shared by orders alike enough to get the same prediction. */
export function responseKey(p: ResponseKeyParts): string {
  return join(
    p.storeId,
    p.destinationCell,
    timeBucket(p.atMs, RESPONSE_TIME_BUCKET_MS),
    p.basketBucket,
    p.modelVersion,
  );
}

/** `store-profiles` and `store-live`: one store. */
export function storeKey(storeId: string): string {
  return part(storeId);
}

/** `geo-trips`: travel estimate from a store to a destination H3 cell. */
export function geoTripKey(storeId: string, destinationCell: string): string {
  return join(storeId, destinationCell);
}
