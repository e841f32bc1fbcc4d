import { HOURS_PER_WEEK } from './live-state.js';
import type { FeatureRecordJson, StoreJson, StoreLiveJson } from './schemas.js';
import { withSharedParts } from './shared-parts.js';
import type { NewStore, Store, StoreFeatureRecord, StoreLiveSnapshot } from './types.js';
import type { StorePatch } from './validate.js';

/** The API speaks snake_case; the code camelCase. These are the only places that translate. */
export function toStoreJson(store: Store): StoreJson {
  return {
    store_id: store.storeId,
    name: store.name,
    location: { lat: store.location.lat, lng: store.location.lng },
    category: store.category,
    timezone: store.timezone,
    opening_hours: store.openingHours,
    delivery_radius_km: store.deliveryRadiusKm,
    prep_profile: { mean_seconds: store.prepProfile.meanSeconds, p90_seconds: store.prepProfile.p90Seconds },
    created_at: store.createdAt,
    updated_at: store.updatedAt,
  };
}

export function fromStoreJson(json: StoreJson): Store {
  return withSharedParts({
    storeId: json.store_id,
    name: json.name,
    location: { lat: json.location.lat, lng: json.location.lng },
    category: json.category,
    timezone: json.timezone,
    openingHours: json.opening_hours ?? {},
    deliveryRadiusKm: json.delivery_radius_km,
    prepProfile: { meanSeconds: json.prep_profile.mean_seconds, p90Seconds: json.prep_profile.p90_seconds },
    createdAt: json.created_at,
    updatedAt: json.updated_at,
  });
}

/** A store to write, as the API takes it (the timestamps are the server's). */
export function toNewStoreJson(store: NewStore): Omit<StoreJson, 'created_at' | 'updated_at'> {
  const { created_at: _c, updated_at: _u, ...rest } = toStoreJson({ ...store, createdAt: '', updatedAt: '' });
  return rest;
}

export function toPatchJson(patch: StorePatch): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (patch.name !== undefined) out.name = patch.name;
  if (patch.location !== undefined) out.location = patch.location;
  if (patch.category !== undefined) out.category = patch.category;
  if (patch.timezone !== undefined) out.timezone = patch.timezone;
  if (patch.openingHours !== undefined) out.opening_hours = patch.openingHours;
  if (patch.deliveryRadiusKm !== undefined) out.delivery_radius_km = patch.deliveryRadiusKm;
  if (patch.prepProfile !== undefined) {
    out.prep_profile = {
      mean_seconds: patch.prepProfile.meanSeconds,
      p90_seconds: patch.prepProfile.p90Seconds,
    };
  }
  return out;
}

export function toFeatureJson(r: StoreFeatureRecord): FeatureRecordJson {
  return {
    store_id: r.storeId,
    location: r.location,
    category: r.category,
    timezone: r.timezone,
    delivery_radius_km: r.deliveryRadiusKm,
    prep_mean_seconds: r.prepMeanSeconds,
    prep_p90_seconds: r.prepP90Seconds,
    prep_ewma_seconds: r.prepEwmaSeconds,
    orders_in_kitchen: r.ordersInKitchen,
    open: r.open,
    opens_at: r.opensAt,
  };
}

export function fromFeatureJson(j: FeatureRecordJson): StoreFeatureRecord {
  return {
    storeId: j.store_id,
    location: j.location,
    category: j.category,
    timezone: j.timezone,
    deliveryRadiusKm: j.delivery_radius_km,
    prepMeanSeconds: j.prep_mean_seconds,
    prepP90Seconds: j.prep_p90_seconds,
    prepEwmaSeconds: j.prep_ewma_seconds,
    ordersInKitchen: j.orders_in_kitchen,
    open: j.open,
    opensAt: j.opens_at,
  };
}

const SLOT_BYTES = 4;

/** Float32 slots travel as their bytes: exact, and a fifth the length of the numbers written out. */
export function toLiveJson(s: StoreLiveSnapshot): StoreLiveJson {
  let slots: string | null = null;
  if (s.prepEwmaSlots) {
    const bytes = Buffer.alloc(HOURS_PER_WEEK * SLOT_BYTES);
    s.prepEwmaSlots.forEach((v, i) => bytes.writeFloatLE(v, i * SLOT_BYTES));
    slots = bytes.toString('base64');
  }
  return {
    kitchen_until_ms: s.kitchenUntilMs as number[],
    prep_ewma_slots: slots,
    prep_ewma_overall: s.prepEwmaOverall,
  };
}

/** Throws on slots that are not 168 float32: a snapshot is used whole or not at all. */
export function fromLiveJson(j: StoreLiveJson): StoreLiveSnapshot {
  let slots: Float32Array | null = null;
  if (j.prep_ewma_slots !== null) {
    const bytes = Buffer.from(j.prep_ewma_slots, 'base64');
    if (bytes.length !== HOURS_PER_WEEK * SLOT_BYTES) {
      throw new Error(`prep_ewma_slots holds ${bytes.length} bytes, not ${HOURS_PER_WEEK * SLOT_BYTES}`);
    }
    slots = new Float32Array(HOURS_PER_WEEK);
    for (let i = 0; i < HOURS_PER_WEEK; i++) slots[i] = bytes.readFloatLE(i * SLOT_BYTES);
  }
  return { kitchenUntilMs: j.kitchen_until_ms, prepEwmaSlots: slots, prepEwmaOverall: j.prep_ewma_overall };
}
