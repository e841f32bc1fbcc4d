import type { LatLng } from '../features/index.js';
import { offsetKm, type City } from './city.js';
import type { Rng } from './prng.js';

const HOUR = 3_600_000;

/** Shifts in local hours; past 24 runs into the next day. Most riders work the lunch or dinner rush. */
const SHIFTS: Array<{ start: number; end: number; share: number }> = [
  { start: 10.5, end: 23.5, share: 0.3 },
  { start: 11, end: 15, share: 0.25 },
  { start: 18, end: 24, share: 0.35 },
  { start: 19, end: 25.5, share: 0.1 },
];

export interface Fleet {
  ids: string[];
  shiftStartH: Float64Array;
  shiftEndH: Float64Array;
  freeAtMs: Float64Array;
  lat: Float64Array;
  lng: Float64Array;
}

export function buildFleet(city: City, ordersPerDay: number, rng: Rng): Fleet {
  const n = Math.max(8, Math.round(ordersPerDay * 0.11));
  const fleet: Fleet = {
    ids: [],
    shiftStartH: new Float64Array(n),
    shiftEndH: new Float64Array(n),
    freeAtMs: new Float64Array(n).fill(Number.NEGATIVE_INFINITY),
    lat: new Float64Array(n),
    lng: new Float64Array(n),
  };
  let shift = 0;
  let filled = 0;
  for (let i = 0; i < n; i++) {
    while (shift < SHIFTS.length - 1 && i >= filled + SHIFTS[shift]!.share * n)
      filled += SHIFTS[shift++]!.share * n;
    fleet.ids.push(`r-${String(i + 1).padStart(4, '0')}`);
    fleet.shiftStartH[i] = SHIFTS[shift]!.start;
    fleet.shiftEndH[i] = SHIFTS[shift]!.end;
    const home = offsetKm(city.center, rng.normal() * 2, rng.normal() * 2);
    fleet.lat[i] = home.lat;
    fleet.lng[i] = home.lng;
  }
  return fleet;
}

/**
 * When rider `r` can next start a job at or after `atMs`: now if free and on shift, else when the current job
 * ends or the next shift begins. `midnights` are the UTC instants of each local midnight of the history.
 */
export function nextAvailableMs(
  fleet: Fleet,
  r: number,
  atMs: number,
  midnights: Float64Array,
  day: number,
): number {
  const x = Math.max(atMs, fleet.freeAtMs[r]!);
  let best = Number.POSITIVE_INFINITY;
  // day -1 exists too: the night shift that began the evening before the history still covers its first hours
  for (let d = day - 1; d <= Math.min(midnights.length - 1, day + 1); d++) {
    const midnight = d >= 0 ? midnights[d]! : midnights[0]! - 24 * HOUR;
    const s = midnight + fleet.shiftStartH[r]! * HOUR;
    const e = midnight + fleet.shiftEndH[r]! * HOUR;
    if (x >= s && x < e) return x;
    if (s > x && s < best) best = s;
  }
  return best;
}

/** Rough minutes-free distance for choosing a rider; the ride itself uses the true model. */
export function approxKm(aLat: number, aLng: number, b: LatLng): number {
  const dy = (b.lat - aLat) * 110.574;
  const dx = (b.lng - aLng) * 111.32 * Math.cos((aLat * Math.PI) / 180);
  return Math.sqrt(dx * dx + dy * dy);
}

export function shiftWindows(fleet: Fleet, r: number, midnight: number): [number, number] {
  return [midnight + fleet.shiftStartH[r]! * HOUR, midnight + fleet.shiftEndH[r]! * HOUR];
}
