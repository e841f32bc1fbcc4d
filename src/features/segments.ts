import { latLngToCell } from 'h3-js';
import { localTime } from './local-time.js';

/**
 * The segments the platform calibrates ETA ranges by, nested in this order: the store's zone, then the daypart.
 * Training (the validation rows' labels), the predictor (each answer's range) and the accuracy join (each
 * outcome's segment) all label through these functions, so a segment means the same thing everywhere.
 */
export const RANGE_SEGMENT_COLUMNS = ['zone', 'daypart'] as const;

export interface RangeSegment {
  zone: string;
  daypart: string;
}

/** The H3 cell (res 7) of a store's location: the zone of its orders' prep times and of its range correction. */
export function storeZone(location: { lat: number; lng: number }, resolution = 7): string {
  return latLngToCell(location.lat, location.lng, resolution);
}

/** Dayparts of the store's local hour (the `hour_local` feature); stores mostly open 11:00–23:00. */
export function daypart(hourLocal: number): string {
  if (Number.isNaN(hourLocal)) return '';
  if (hourLocal < 11) return 'morning';
  if (hourLocal < 14.5) return 'lunch';
  if (hourLocal < 18) return 'afternoon';
  if (hourLocal < 21.5) return 'dinner';
  return 'late';
}

/** The segment of an order placed at `atMs` at a store. */
export function rangeSegment(
  store: { location: { lat: number; lng: number }; timezone: string },
  atMs: number,
): RangeSegment {
  return { zone: storeZone(store.location), daypart: daypart(localTime(store.timezone, atMs).hour) };
}
