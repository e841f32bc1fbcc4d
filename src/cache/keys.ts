/**
 * The keys of the shared caches, built in one place so every service and replica agrees on them. Parts are joined
 * with ':'; an id containing ':' is escaped so two different tuples never make the same key.
 */
import { cellToLatLng, latLngToCell } from 'h3-js';

const part = (value: string | number): string => String(value).replaceAll('%', '%25').replaceAll(':', '%3A');
const join = (...parts: (string | number)[]): string => parts.map(part).join(':');

/** Start of the time bucket that `atMs` falls in, in ms since the epoch. */
export function timeBucket(atMs: number, bucketMs: number): number {
  return Math.floor(atMs / bucketMs) * bucketMs;
}

export const RESPONSE_TIME_BUCKET_MS = 5 * 60_000;
/** Travel speeds change by hour-of-week band, so one estimate serves a store and cell for the hour. */
export const GEO_TRIP_TIME_BUCKET_MS = 3_600_000;
/**
 * H3 resolution 8: cells of about 0.74 km² (mean edge about 530 m). Estimates are made to the cell's centre, so a
 * trip's length is off by the destination's distance from the centre projected on the trip: about 0.2 km on
 * average and at most about 0.55 km, some 40 s (at most under 2 min) of urban riding, well inside an ETA's
 * p10-p90 range. Resolution 9 (edge ~200 m) split the mix's destinations over so many cells that answers were
 * rarely shared within a response's few seconds of life. See docs/caching.md.
 */
export const DEFAULT_DESTINATION_RESOLUTION = 8;

/** A destination's H3 cell at the configured resolution; only `CacheKeys.destinationCell` makes one. */
export type DestinationCell = string & { readonly __destinationCell: unique symbol };

export interface ResponseKeyParts {
  storeId: string;
  destinationCell: DestinationCell;
  /** Order time, bucketed by RESPONSE_TIME_BUCKET_MS. */
  atMs: number;
  /** Basket size bucket, as the gateway defines it (for example: items 1, 2-3, 4-7, 8+). */
  basketBucket: string | number;
  /** The model version that served: a promotion changes every key, so no invalidation is needed. */
  modelVersion: string;
}

/**
 * Key builders for one destination-cell resolution (`cache.destinationCellResolution`): the response key and the
 * geo-trip key share the cell, so a coarser or finer cell changes both together.
 */
export class CacheKeys {
  constructor(readonly destinationResolution: number = DEFAULT_DESTINATION_RESOLUTION) {
    if (!Number.isInteger(destinationResolution) || destinationResolution < 0 || destinationResolution > 15) {
      throw new Error(`cache: H3 resolution must be an integer 0-15, got ${destinationResolution}`);
    }
  }

  destinationCell(destination: { lat: number; lng: number }): DestinationCell {
    return latLngToCell(destination.lat, destination.lng, this.destinationResolution) as DestinationCell;
  }

  /** The point estimates for a cell are made to, so a cached value does not depend on which order filled it. */
  cellCentre(cell: DestinationCell): { lat: number; lng: number } {
    const [lat, lng] = cellToLatLng(cell);
    return { lat, lng };
  }

  /** `responses`: one ETA answer, shared by orders alike enough to get the same prediction. */
  response(p: ResponseKeyParts): string {
    return join(
      p.storeId,
      p.destinationCell,
      timeBucket(p.atMs, RESPONSE_TIME_BUCKET_MS),
      p.basketBucket,
      p.modelVersion,
    );
  }

  /** `geo-trips`: travel estimate from a store to a destination cell's centre, for the hour of `atMs`. */
  geoTrip(storeId: string, destinationCell: DestinationCell, atMs: number): string {
    return join(storeId, destinationCell, timeBucket(atMs, GEO_TRIP_TIME_BUCKET_MS));
  }
}

/** `store-profiles` and `store-live`: one store. */
export function storeKey(storeId: string): string {
  return part(storeId);
}
