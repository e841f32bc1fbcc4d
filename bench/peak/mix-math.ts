/** Random draws, time and distance helpers of the peak mix (`mix.ts`): small, deterministic for a seed. */
import { utcOffsetMs } from '../../src/features/index.js';
import { mulberry32 } from '../../src/model/index.js';

/** mulberry32, seeded as is: the mixes stay what they were for a seed. Returns [0, 1). */
export const rng = mulberry32;

export function normal(r: () => number): number {
  const u = 1 - r();
  const v = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Draws ranks 0..n-1 with P(k) proportional to 1/(k+1)^s, by binary search over the CDF. */
export function zipfSampler(n: number, s: number, r: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / Math.pow(k + 1, s);
  for (let k = 0; k < n; k++) cdf[k]! /= sum;
  return () => {
    const u = r();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export const KM_PER_DEG_LAT = 111.32;

export function offset(
  lat: number,
  lng: number,
  northKm: number,
  eastKm: number,
): { lat: number; lng: number } {
  const dLat = northKm / KM_PER_DEG_LAT;
  const dLng = eastKm / (KM_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180));
  return { lat: Math.round((lat + dLat) * 1e6) / 1e6, lng: Math.round((lng + dLng) * 1e6) / 1e6 };
}

/** Local hour of day (fractional) following lunch and dinner peaks. */
export function hourOfDay(r: () => number): number {
  const u = r();
  let h: number;
  if (u < 0.35) h = 12.5 + 0.9 * normal(r);
  else if (u < 0.8) h = 19.5 + 1.3 * normal(r);
  else h = 7 + 17 * r();
  return Math.min(23.99, Math.max(0, h));
}

export function mondayBeforeTodayUtc(): number {
  const d = new Date();
  const day = (d.getUTCDay() + 6) % 7; // Monday = 0
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day);
}

/** Offset of `timeZone` from UTC at `atMs`, hours (e.g. 1 for Europe/Paris in winter). */
export function utcOffsetHours(timeZone: string, atMs: number): number {
  return utcOffsetMs(timeZone, atMs) / 3_600_000;
}

/** Equirectangular distance: within a fraction of a percent of haversine over a city. */
export function distanceKm(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const dy = (b.lat - a.lat) * KM_PER_DEG_LAT;
  const dx = (b.lng - a.lng) * KM_PER_DEG_LAT * Math.cos((((a.lat + b.lat) / 2) * Math.PI) / 180);
  return Math.sqrt(dx * dx + dy * dy);
}
