import type { FeatureSpec } from '../model/index.js';
import { localTime } from './local-time.js';

/**
 * The one feature definition. The predictor builds a request's vector with it, and the offline ETL builds every
 * training row with it, so serving and training can never disagree (a test holds the two equal).
 */
export const FEATURE_VERSION = 1;

export const STORE_CATEGORIES = [
  'pizza',
  'burger',
  'asian',
  'indian',
  'mexican',
  'dessert',
  'cafe',
  'grocery',
  'healthy',
  'other',
] as const;

export type StoreCategory = (typeof STORE_CATEGORIES)[number];

export const FEATURES = [
  { name: 'distance_km', type: 'numeric' },
  { name: 'travel_estimate_s', type: 'numeric' },
  { name: 'hour_local', type: 'numeric' },
  { name: 'weekday_local', type: 'numeric' },
  { name: 'store_category', type: 'categorical', categories: [...STORE_CATEGORIES] },
  { name: 'prep_mean_s', type: 'numeric' },
  { name: 'prep_ewma_s', type: 'numeric' },
  { name: 'orders_in_kitchen', type: 'numeric' },
  { name: 'items', type: 'numeric' },
  { name: 'subtotal', type: 'numeric' },
  { name: 'riders_available', type: 'numeric' },
  { name: 'zone_speed_kmh', type: 'numeric' },
] as const satisfies readonly FeatureSpec[];

export const FEATURE_SPEC: FeatureSpec[] = FEATURES.map((f) => ({
  ...f,
  ...('categories' in f ? { categories: [...f.categories] } : {}),
}));
export const FEATURE_COUNT = FEATURES.length;
export const FEATURE_NAMES: string[] = FEATURES.map((f) => f.name);

/** What is known about the order when it is placed. */
export interface OrderInput {
  orderedAtMs: number;
  items?: number | undefined;
  subtotal?: number | undefined;
}

/** The store as of the order's creation: its profile and its live state. */
export interface StoreSnapshot {
  category: string;
  timezone: string;
  prepMeanSeconds: number;
  /** EWMA of recent prep times for this hour of week; null when there is no history yet. */
  prepEwmaSeconds: number | null;
  ordersInKitchen: number;
}

/** The trip from the store to the destination, as of the order's creation. */
export interface TripSnapshot {
  distanceKm: number;
  travelSeconds: number;
  zoneSpeedKmh: number;
  /** Riders free near the store; null when unknown. */
  ridersAvailable: number | null;
}

const categoryIndex = new Map<string, number>(STORE_CATEGORIES.map((c, i) => [c, i]));
const OTHER = categoryIndex.get('other')!;

export function categoryCode(category: string): number {
  return categoryIndex.get(category.toLowerCase()) ?? OTHER;
}

const orNaN = (v: number | null | undefined): number => (v === null || v === undefined ? Number.NaN : v);

/** Fills `out` (length FEATURE_COUNT) in FEATURES order. Missing values are NaN; the model routes them. */
export function buildFeatureVector(
  order: OrderInput,
  store: StoreSnapshot,
  trip: TripSnapshot,
  out: Float64Array,
): Float64Array {
  const t = localTime(store.timezone, order.orderedAtMs);
  out[0] = trip.distanceKm;
  out[1] = trip.travelSeconds;
  out[2] = t.hour;
  out[3] = t.weekday;
  out[4] = categoryCode(store.category);
  out[5] = store.prepMeanSeconds;
  out[6] = orNaN(store.prepEwmaSeconds);
  out[7] = store.ordersInKitchen;
  out[8] = orNaN(order.items);
  out[9] = orNaN(order.subtotal);
  out[10] = orNaN(trip.ridersAvailable);
  out[11] = trip.zoneSpeedKmh;
  return out;
}
