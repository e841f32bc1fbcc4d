import type { ListOptions, PutResult, StoreCatalog, StorePage, UpsertManyResult } from './catalog.js';
import type { LiveState } from './live-state.js';
import { isOpen, nextOpening } from './opening-hours.js';
import type {
  NewStore,
  Store,
  StoreFeatureRecord,
  StoreFeatures,
  StoreLiveSnapshot,
  StoreLiveSource,
} from './types.js';
import type { StorePatch } from './validate.js';

/** What the predictor and the gateway's fallback need of one store at one moment. */
export function featureRecord(
  store: Store,
  live: { ordersInKitchen: number; prepEwmaSeconds: number | null },
  atMs: number,
): StoreFeatureRecord {
  const open = isOpen(store, atMs);
  return {
    storeId: store.storeId,
    location: store.location,
    category: store.category,
    timezone: store.timezone,
    deliveryRadiusKm: store.deliveryRadiusKm,
    prepMeanSeconds: store.prepProfile.meanSeconds,
    prepP90Seconds: store.prepProfile.p90Seconds,
    prepEwmaSeconds: live.prepEwmaSeconds,
    ordersInKitchen: live.ordersInKitchen,
    open,
    opensAt: open ? null : nextOpening(store, atMs),
  };
}

/**
 * The store module's in-process face: feature records (catalog profile + live state + opening hours) and live
 * state snapshots for the predictor, and the catalog for the gateway's `/v1/stores`. A deleted store's live state
 * goes with it.
 */
export class StoreService implements StoreFeatures, StoreLiveSource, StoreCatalog {
  constructor(
    private readonly catalog: StoreCatalog,
    readonly liveState: LiveState,
  ) {}

  async getStoreFeatures(
    storeIds: readonly string[],
    atMs: number,
  ): Promise<Map<string, StoreFeatureRecord>> {
    const out = new Map<string, StoreFeatureRecord>();
    if (storeIds.length === 0) return out;
    const stores = await this.catalog.getMany([...new Set(storeIds)]);
    for (const [id, store] of stores) {
      out.set(id, featureRecord(store, this.liveState.get(id, atMs, store.timezone), atMs));
    }
    return out;
  }

  async getLive(storeIds: readonly string[]): Promise<Map<string, StoreLiveSnapshot>> {
    return new Map(storeIds.map((id) => [id, this.liveState.snapshot(id)]));
  }

  get(storeId: string): Promise<Store | undefined> {
    return this.catalog.get(storeId);
  }

  getMany(storeIds: readonly string[]): Promise<Map<string, Store>> {
    return this.catalog.getMany(storeIds);
  }

  list(options?: ListOptions): Promise<StorePage> {
    return this.catalog.list(options);
  }

  create(store: NewStore): Promise<Store> {
    return this.catalog.create(store);
  }

  put(store: NewStore): Promise<PutResult> {
    return this.catalog.put(store);
  }

  patch(storeId: string, patch: StorePatch): Promise<Store> {
    return this.catalog.patch(storeId, patch);
  }

  async delete(storeId: string): Promise<void> {
    await this.catalog.delete(storeId);
    this.liveState.forget(storeId);
  }

  upsertMany(stores: readonly NewStore[]): Promise<UpsertManyResult> {
    return this.catalog.upsertMany(stores);
  }

  count(): Promise<number> {
    return this.catalog.count();
  }

  close(): Promise<void> {
    return this.catalog.close();
  }
}
