import { offsetKm, STORE_CATEGORIES, type LatLng, type StoreCategory } from '../features/index.js';
import { cumulative, Rng, zipfWeights } from './prng.js';

/** The shape of the store catalog's `NewStore` (src/store/types.ts), which the simulator may not import. */
export interface SimulatedStore {
  storeId: string;
  name: string;
  location: LatLng;
  category: string;
  timezone: string;
  openingHours: Partial<
    Record<'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun', Array<[string, string]>>
  >;
  deliveryRadiusKm: number;
  prepProfile: { meanSeconds: number; p90Seconds: number };
}

export interface CityOptions {
  seed: number;
  stores: number;
  center?: LatLng;
  timezone?: string;
}

export interface City {
  seed: number;
  center: LatLng;
  timezone: string;
  stores: SimulatedStore[];
  /** Ground truth per store (index as in `stores`): median prep seconds before load, hour and noise. */
  basePrepSeconds: Float64Array;
  /** Orders a kitchen handles without slowing down much; popular stores have bigger kitchens. */
  kitchenCapacity: Float64Array;
  /** Mean basket price per item. */
  itemPrice: Float64Array;
  /** Cumulative Zipf(1.1) popularity, for drawing the store of an order. */
  popularity: Float64Array;
  /** Open per store and 15-minute slot of the local week (7 × 96): 1 = open. */
  openSlots: Uint8Array;
}

export const SLOTS_PER_WEEK = 7 * 96;
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const CATEGORY_PREP_MIN: Record<StoreCategory, number> = {
  pizza: 13,
  burger: 9,
  asian: 12,
  indian: 15,
  mexican: 10,
  dessert: 5,
  cafe: 5,
  grocery: 8,
  healthy: 8,
  other: 10,
};
const CATEGORY_WEIGHT: Record<StoreCategory, number> = {
  pizza: 16,
  burger: 16,
  asian: 14,
  indian: 8,
  mexican: 6,
  dessert: 6,
  cafe: 8,
  grocery: 6,
  healthy: 8,
  other: 12,
};
const NAMES = ['Chez', 'Le Petit', 'La Maison du', 'Atelier', 'Le Comptoir', 'Bistro', 'Le Coin', 'Studio'];

export const DEFAULT_CENTER: LatLng = { lat: 48.8566, lng: 2.3522 };
export const DEFAULT_TIMEZONE = 'Europe/Paris';
export { KM_PER_DEG_LAT, kmPerDegLng, offsetKm } from '../features/index.js';

const hhmm = (minutes: number): string =>
  `${String(Math.floor(minutes / 60) % 24).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

function openingHoursFor(category: StoreCategory, rng: Rng): Array<Array<[number, number]>> {
  // minutes from local midnight; an interval past midnight ends after 1440
  let day: Array<[number, number]>;
  if (category === 'cafe') day = [[8 * 60, 18 * 60]];
  else if (category === 'grocery') day = [[9 * 60, 23 * 60]];
  else if (rng.chance(0.25))
    day = [
      [11 * 60 + 30, 14 * 60 + 30],
      [18 * 60, 23 * 60],
    ];
  else if (rng.chance(0.15)) day = [[11 * 60, 25 * 60]];
  else day = [[11 * 60, 23 * 60]];
  const closedDay = rng.chance(0.2) ? 0 : -1;
  return DAYS.map((_, d) => (d === closedDay ? [] : day));
}

/** The city of a seed: the same seed always gives the same stores, so history and live traffic agree. */
export function buildCity(options: CityOptions): City {
  const rng = new Rng(options.seed);
  const center = options.center ?? DEFAULT_CENTER;
  const timezone = options.timezone ?? DEFAULT_TIMEZONE;
  const n = options.stores;
  const categoryCum = cumulative(STORE_CATEGORIES.map((c) => CATEGORY_WEIGHT[c]));
  const stores: SimulatedStore[] = [];
  const basePrepSeconds = new Float64Array(n);
  const itemPrice = new Float64Array(n);
  const openSlots = new Uint8Array(n * SLOTS_PER_WEEK);
  for (let i = 0; i < n; i++) {
    const category = STORE_CATEGORIES[rng.pickCumulative(categoryCum)]!;
    let r = Math.abs(rng.normal()) * 2.2;
    if (r > 7) r = rng.uniform(0, 7);
    const angle = rng.uniform(0, 2 * Math.PI);
    const location = offsetKm(center, r * Math.cos(angle), r * Math.sin(angle));
    const base = CATEGORY_PREP_MIN[category] * 60 * rng.lognormal(0, 0.25);
    basePrepSeconds[i] = base;
    itemPrice[i] = (category === 'grocery' ? 6 : 12) * rng.lognormal(0, 0.2);
    const hours = openingHoursFor(category, rng);
    for (let d = 0; d < 7; d++) {
      for (const [open, close] of hours[d]!) {
        for (let m = open; m < close; m += 15)
          openSlots[i * SLOTS_PER_WEEK + ((d * 96 + Math.floor(m / 15)) % SLOTS_PER_WEEK)] = 1;
      }
    }
    const openingHours: SimulatedStore['openingHours'] = {};
    DAYS.forEach((day, d) => {
      openingHours[day] = hours[d]!.map(([o, c]) => [hhmm(o), hhmm(c)] as [string, string]);
    });
    // The catalog holds what the store declared, a little optimistic and rounded, not the hidden truth.
    const declared = Math.round((base * rng.uniform(0.85, 1.1)) / 60) * 60;
    stores.push({
      storeId: `s-${String(i + 1).padStart(4, '0')}`,
      name: `${NAMES[rng.int(NAMES.length)]} ${category[0]!.toUpperCase()}${category.slice(1)} ${i + 1}`,
      location: { lat: round6(location.lat), lng: round6(location.lng) },
      category,
      timezone,
      openingHours,
      deliveryRadiusKm: Math.round(rng.uniform(2.5, 6) * 10) / 10,
      prepProfile: {
        meanSeconds: Math.max(180, declared),
        p90Seconds: Math.max(300, Math.round((declared * 1.6) / 60) * 60),
      },
    });
  }
  const ranks = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const zipf = zipfWeights(n, 1.1);
  const weights = new Float64Array(n);
  ranks.forEach((store, rank) => (weights[store] = zipf[rank]!));
  const total = weights.reduce((a, b) => a + b, 0);
  const kitchenCapacity = weights.map((w) => 1.5 + (30 * w) / total);
  return {
    seed: options.seed,
    center,
    timezone,
    stores,
    basePrepSeconds,
    kitchenCapacity,
    itemPrice,
    popularity: cumulative(weights),
    openSlots,
  };
}

export function isOpen(city: City, store: number, weekday: number, minuteOfDay: number): boolean {
  return city.openSlots[store * SLOTS_PER_WEEK + weekday * 96 + Math.floor(minuteOfDay / 15)] === 1;
}

const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;
