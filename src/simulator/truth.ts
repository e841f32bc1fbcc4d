import { haversineKm, type LatLng } from '../features/index.js';
import type { City } from './city.js';
import type { Rng } from './prng.js';

/**
 * The hidden rules of the simulated city. The model never sees these; it has to learn them back from timestamps,
 * which is what makes the simulated history a fair test of the pipeline.
 */
const gauss = (x: number, mu: number, sigma: number): number => Math.exp(-0.5 * ((x - mu) / sigma) ** 2);

/** 0 off-peak … 1 at the height of the lunch or dinner rush. */
export function peakness(hour: number): number {
  return Math.max(gauss(hour, 12.75, 0.9), gauss(hour, 20, 1.1));
}

/** Orders per minute, relative: lunch and dinner peaks, a later and bigger dinner at weekends. */
export function demandIntensity(hour: number, weekend: boolean): number {
  if (hour < 7) return hour < 1.5 ? 0.08 : 0.01;
  const base = hour < 10 ? 0.06 : 0.18;
  return weekend
    ? base + 0.75 * gauss(hour, 13.25, 1.0) + 1.6 * gauss(hour, 20.25, 1.2)
    : base + 1.0 * gauss(hour, 12.75, 0.8) + 1.25 * gauss(hour, 20, 1.0);
}

/** Monday … Sunday */
export const DAY_FACTOR = [0.85, 0.9, 0.95, 1.0, 1.2, 1.25, 1.1];

/** Cumulative demand over the 1440 minutes of a local day. */
export function demandCdf(weekend: boolean): Float64Array {
  const cdf = new Float64Array(1440);
  let sum = 0;
  for (let m = 0; m < 1440; m++) cdf[m] = sum += demandIntensity((m + 0.5) / 60, weekend);
  return cdf;
}

/** Riding speed: the centre is slow, the edge fast; peaks jam, nights flow. */
export function trueSpeedKmh(city: City, at: LatLng, hour: number, weekend: boolean): number {
  const fromCentre = haversineKm(city.center, at);
  const zone = 12 + 10 * Math.min(1, fromCentre / 6);
  const traffic = hour < 7 || hour >= 23 ? 1.15 : 1.08 - 0.3 * peakness(hour);
  return zone * traffic * (weekend ? 1.06 : 1);
}

export function trueRideSeconds(
  city: City,
  from: LatLng,
  to: LatLng,
  hour: number,
  weekend: boolean,
  rng: Rng,
): number {
  const km = haversineKm(from, to) * rng.uniform(1.18, 1.5);
  const mid = { lat: (from.lat + to.lat) / 2, lng: (from.lng + to.lng) / 2 };
  const speed = trueSpeedKmh(city, mid, hour, weekend) * rng.lognormal(0, 0.12);
  return (km / speed) * 3600;
}

/** Parking, stairs and the handover at the door. */
export function trueDropoffSeconds(rng: Rng): number {
  return 100 * rng.lognormal(0, 0.45);
}

/**
 * Kitchen time: slower with each order already cooking (relative to what the kitchen is built for), at the rush,
 * and with bigger baskets.
 */
export function truePrepSeconds(
  basePrep: number,
  ordersInKitchen: number,
  capacity: number,
  hour: number,
  items: number,
  rng: Rng,
): number {
  const load = 1 + (0.35 * ordersInKitchen) / capacity;
  const rush = 1 + 0.15 * peakness(hour);
  const basket = 1 + 0.05 * (items - 2);
  return Math.max(90, basePrep * load * rush * basket * rng.lognormal(0, 0.28));
}

export function trueAcceptSeconds(ordersInKitchen: number, rng: Rng): number {
  return Math.min(600, 40 * (1 + 0.08 * ordersInKitchen) * rng.lognormal(0, 0.6));
}
