import { sharedHours, sharedString } from './shared-parts.js';
import type { NewStore, Store } from './types.js';

/** A row of `stores`, the same on SQLite and PostgreSQL. */
export interface StoreRow {
  store_id: string;
  name: string;
  lat: number;
  lng: number;
  category: string;
  timezone: string;
  opening_hours: string;
  delivery_radius_km: number;
  prep_mean_s: number;
  prep_p90_s: number;
  created_at: string;
  updated_at: string;
}

export const STORE_COLUMNS = [
  'store_id',
  'name',
  'lat',
  'lng',
  'category',
  'timezone',
  'opening_hours',
  'delivery_radius_km',
  'prep_mean_s',
  'prep_p90_s',
  'created_at',
  'updated_at',
] as const satisfies ReadonlyArray<keyof StoreRow>;

export function rowToStore(row: StoreRow): Store {
  return {
    storeId: row.store_id,
    name: row.name,
    location: { lat: Number(row.lat), lng: Number(row.lng) },
    category: sharedString(row.category),
    timezone: sharedString(row.timezone),
    openingHours: sharedHours(row.opening_hours),
    deliveryRadiusKm: Number(row.delivery_radius_km),
    prepProfile: { meanSeconds: Number(row.prep_mean_s), p90Seconds: Number(row.prep_p90_s) },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function storeToRow(store: NewStore, createdAt: string, updatedAt: string): StoreRow {
  return {
    store_id: store.storeId,
    name: store.name,
    lat: store.location.lat,
    lng: store.location.lng,
    category: store.category,
    timezone: store.timezone,
    opening_hours: JSON.stringify(store.openingHours),
    delivery_radius_km: store.deliveryRadiusKm,
    prep_mean_s: store.prepProfile.meanSeconds,
    prep_p90_s: store.prepProfile.p90Seconds,
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

/** The last of each id wins, as if the rows were written one after another; one statement cannot touch a row twice. */
export function lastOfEachId(stores: readonly NewStore[]): NewStore[] {
  return [...new Map(stores.map((s) => [s.storeId, s])).values()];
}
