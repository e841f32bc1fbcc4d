import type { LatLng } from '../features/index.js';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Local times "HH:MM" in the store's timezone. An interval may run past midnight ("18:00"-"02:00"). */
export type OpeningHours = Partial<Record<Weekday, Array<[string, string]>>>;

export interface PrepProfile {
  meanSeconds: number;
  p90Seconds: number;
}

export interface Store {
  storeId: string;
  name: string;
  location: LatLng;
  category: string;
  /** IANA timezone, e.g. "Europe/Paris" */
  timezone: string;
  openingHours: OpeningHours;
  deliveryRadiusKm: number;
  prepProfile: PrepProfile;
  createdAt: string;
  updatedAt: string;
}

export type NewStore = Omit<Store, 'createdAt' | 'updatedAt'>;

/** Orders in the kitchen and recent prep times: changes by the second, kept apart from the catalog. */
export interface StoreLiveState {
  ordersInKitchen: number;
  /** EWMA of prep seconds for the store at this hour of week; null without history. */
  prepEwmaSeconds: number | null;
}

/**
 * A store's live state for every order time at once (`liveAt` reads it for one), so a cache holds one entry per
 * store rather than one per store and hour.
 */
export interface StoreLiveSnapshot {
  /** When each order now in the kitchen stops counting (accepted at + the kitchen TTL), ms since the epoch. */
  kitchenUntilMs: readonly number[];
  /** Prep EWMA per hour of week (Monday 00:00 = 0) in the store's timezone, NaN where none; null before any. */
  prepEwmaSlots: Float32Array | null;
  prepEwmaOverall: number | null;
}

/** Everything the predictor (and the gateway's fallback) needs of one store at one moment. */
export interface StoreFeatureRecord {
  storeId: string;
  location: LatLng;
  category: string;
  timezone: string;
  deliveryRadiusKm: number;
  prepMeanSeconds: number;
  prepP90Seconds: number;
  prepEwmaSeconds: number | null;
  ordersInKitchen: number;
  open: boolean;
  /** ISO 8601 with offset: when a closed store opens next; null when open or never. */
  opensAt: string | null;
}

/** The narrow interface consumers declare: one multi-get. Unknown ids are absent from the map. */
export interface StoreFeatures {
  getStoreFeatures(storeIds: readonly string[], atMs: number): Promise<Map<string, StoreFeatureRecord>>;
}

/** Live state of many stores, for any order time; every id asked has an entry (empty for a store not heard of). */
export interface StoreLiveSource {
  getLive(storeIds: readonly string[]): Promise<Map<string, StoreLiveSnapshot>>;
}
