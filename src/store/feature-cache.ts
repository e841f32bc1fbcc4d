import { LRUCache } from 'lru-cache';
import { storeKey, storeLiveKey, type TieredCache } from '../cache/index.js';
import { EtaError, throttledWarn, within, type Logger } from '../platform/index.js';
import type { StoreCatalog } from './catalog.js';
import { EMPTY_LIVE, liveAt } from './live-state.js';
import { featureRecord } from './service.js';
import type { Store, StoreFeatureRecord, StoreLiveSnapshot, StoreLiveSource } from './types.js';

/** Why features served are not current: the store service failed or was late (last known values or defaults). */
export type StoreStaleness = 'store_features_stale' | 'store_live_default';

export interface StoreFeaturesWithStatus {
  records: Map<string, StoreFeatureRecord>;
  /** Empty when every record is current; otherwise why not. */
  degradedReasons: StoreStaleness[];
}

export interface FeatureCacheDeps {
  /** Live state snapshots by id: the store module's multi-get. */
  live: StoreLiveSource['getLive'];
  /** Profiles (with opening hours) by id: the store catalog's multi-get. */
  profiles: Pick<StoreCatalog, 'getMany'>['getMany'];
  profileCache: TieredCache<Store>;
  liveCache: TieredCache<StoreLiveSnapshot>;
  /** How long to wait for the store service when something older could answer instead (callers may set their own). */
  deadlineMs: number;
  logger: Logger;
  /**
   * Last known values kept past the caches' grace, for when the store service is down (entries); live state is also
   * bounded by the live cache's L1 bytes.
   */
  lastKnownMax?: number;
}

/** A page read by a client with a short deadline (the store service's): a slow moment is retried twice. */
async function withRetries<T>(read: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await read();
    } catch (e) {
      if (i >= attempts) throw e;
    }
  }
}

/** The heap a live snapshot holds, about: the object, its kitchen's times and its week of float32 slots. */
function liveSnapshotBytes(live: StoreLiveSnapshot): number {
  return 200 + 8 * live.kitchenUntilMs.length + (live.prepEwmaSlots ? 96 + live.prepEwmaSlots.byteLength : 0);
}

/** Keeps `value` as the last known one; a value already kept (an L1 hit, the usual case) is only touched. */
function remember<V extends object>(last: LRUCache<string, V>, id: string, value: V): void {
  if (last.get(id) !== value) last.set(id, value);
}

/**
 * Store features through the shared caches: profiles (long TTL, invalidated on update) and live state (invalidated on
 * every change, or a second or two where changes are not heard), each by store. Open or closed, the kitchen's load
 * and the prep EWMA of the order's hour are computed here for the order's time, so one cached profile and one live
 * snapshot serve every order time. When the store service is down or late, the last known values answer, or
 * defaults for live state, and the answer says it is degraded; only a store never seen fails.
 */
export class FeatureCache {
  private readonly lastProfile: LRUCache<string, Store>;
  private readonly lastLive: LRUCache<string, StoreLiveSnapshot>;
  /** Per request while the store service fails: at most once a second. */
  private readonly warnStale: ReturnType<typeof throttledWarn>;

  constructor(private readonly deps: FeatureCacheDeps) {
    this.warnStale = throttledWarn(deps.logger);
    const max = deps.lastKnownMax ?? 50_000;
    this.lastProfile = new LRUCache({ max });
    // Mostly the very snapshots L1 holds; those it evicted stay here, so they count against a bound of their own.
    this.lastLive = new LRUCache({
      max,
      maxSize: deps.liveCache.stats().l1.maxBytes,
      sizeCalculation: liveSnapshotBytes,
    });
  }

  /**
   * `onProfiles` hears the stores' profiles as soon as they are known (at once from L1), before live state is: a
   * caller can start what needs only the profile (geo, with the store's location) alongside it.
   */
  async storeFeatures(
    storeIds: readonly string[],
    atMs: number,
    options: { deadlineMs?: number; onProfiles?: (profiles: ReadonlyMap<string, Store>) => void } = {},
  ): Promise<StoreFeaturesWithStatus> {
    const { deadlineMs = this.deps.deadlineMs, onProfiles } = options;
    const ids = storeIds.length === 1 ? [storeIds[0]!] : [...new Set(storeIds)];
    const reasons = new Set<StoreStaleness>();
    const profilesNow = this.profiles(ids, reasons, deadlineMs);
    if (onProfiles) {
      if (profilesNow instanceof Map) onProfiles(profilesNow);
      // A failed load reaches the caller through the answer below.
      else void profilesNow.then(onProfiles).catch(() => undefined);
    }
    const liveNow = this.live(ids, reasons, deadlineMs);
    // Both from L1, the usual case: no promise to wait for, no deadline timer.
    const [profiles, live] =
      profilesNow instanceof Map && liveNow instanceof Map
        ? [profilesNow, liveNow]
        : await Promise.all([profilesNow, liveNow]);
    const records = new Map<string, StoreFeatureRecord>();
    for (const id of ids) {
      const profile = profiles.get(id);
      if (!profile) continue;
      const state = live.get(id) ?? EMPTY_LIVE;
      records.set(id, featureRecord(profile, liveAt(state, atMs, profile.timezone), atMs));
    }
    return { records, degradedReasons: [...reasons] };
  }

  /**
   * Reads the catalog page by page into this process's profile cache (L1 only) before it serves, so its first
   * requests do not each wait on the store service for a profile: up to `share` of the cache's byte bound (the rest
   * stays for live traffic), and for the whole catalog when it fits. The stores read are also the last known ones.
   * Returns how many profiles were cached.
   */
  async preload(
    list: StoreCatalog['list'],
    options: { share?: number; pageSize?: number; signal?: AbortSignal } = {},
  ): Promise<number> {
    const cache = this.deps.profileCache;
    const maxBytes = cache.l1MaxBytes * (options.share ?? 0.5);
    let cursor: string | null = null;
    let cached = 0;
    do {
      if (options.signal?.aborted) break;
      const page = await withRetries(() => list({ limit: options.pageSize ?? 100, cursor }));
      const added = cache.prime(
        page.stores.map((store) => [storeKey(store.storeId), store] as const),
        maxBytes,
      );
      for (const store of page.stores.slice(0, added)) remember(this.lastProfile, store.storeId, store);
      cached += added;
      if (added < page.stores.length) break;
      cursor = page.nextCursor;
    } while (cursor);
    return cached;
  }

  /** Up to `n` stores whose profiles this process holds, most recently used first (warm-up traffic). */
  knownStores(n: number): Store[] {
    const out: Store[] = [];
    for (const store of this.lastProfile.values()) {
      if (out.length >= n) break;
      out.push(store);
    }
    return out;
  }

  /** Drops store profiles here, in L2 and in every replica's L1: call on every store update. */
  invalidate(storeIds: readonly string[]): Promise<void> {
    for (const id of storeIds) this.lastProfile.delete(id);
    return this.deps.profileCache.invalidate(...storeIds.map(storeKey));
  }

  private profiles(
    ids: string[],
    reasons: Set<StoreStaleness>,
    deadlineMs: number,
  ): Map<string, Store> | Promise<Map<string, Store>> {
    const keys = ids.map(storeKey);
    const load = this.deps.profileCache.resolveMany(keys, async (missing) => {
      const wanted = missing.map((k) => ids[keys.indexOf(k)]!);
      const found = await this.deps.profiles(wanted);
      const out = new Map<string, Store>();
      wanted.forEach((id, i) => {
        const store = found.get(id);
        if (store) out.set(missing[i]!, store);
      });
      return out;
    });
    if (load instanceof Map) return this.profilesFound(ids, keys, load);
    return this.orLastKnown(load, ids, this.lastProfile, 'profiles', deadlineMs).then((byKey) =>
      byKey ? this.profilesFound(ids, keys, byKey) : this.lastKnownProfiles(ids, reasons),
    );
  }

  private lastKnownProfiles(ids: string[], reasons: Set<StoreStaleness>): Map<string, Store> {
    const known = ids.filter((id) => this.lastProfile.has(id));
    // A store never seen cannot be answered for without the store service.
    if (known.length < ids.length) {
      throw new EtaError(
        'upstream_unavailable',
        'the store service is unavailable and has not answered for this store yet',
      );
    }
    reasons.add('store_features_stale');
    return new Map(known.map((id) => [id, this.lastProfile.get(id)!]));
  }

  private profilesFound(ids: string[], keys: string[], byKey: Map<string, Store>): Map<string, Store> {
    const out = new Map<string, Store>();
    ids.forEach((id, i) => {
      const store = byKey.get(keys[i]!);
      if (!store) return;
      out.set(id, store);
      remember(this.lastProfile, id, store);
    });
    return out;
  }

  private live(
    ids: string[],
    reasons: Set<StoreStaleness>,
    deadlineMs: number,
  ): Map<string, StoreLiveSnapshot> | Promise<Map<string, StoreLiveSnapshot>> {
    const keys = ids.map(storeLiveKey);
    const load = this.deps.liveCache.resolveMany(keys, async (missing) => {
      const wanted = missing.map((k) => ids[keys.indexOf(k)]!);
      const found = await this.deps.live(wanted);
      const out = new Map<string, StoreLiveSnapshot>();
      wanted.forEach((id, i) => {
        const snapshot = found.get(id);
        if (snapshot) out.set(missing[i]!, snapshot);
      });
      return out;
    });
    if (load instanceof Map) return this.liveFound(ids, keys, load);
    return this.orLastKnown(load, ids, this.lastLive, 'live state', deadlineMs).then((byKey) => {
      if (byKey) return this.liveFound(ids, keys, byKey);
      reasons.add(ids.every((id) => this.lastLive.has(id)) ? 'store_features_stale' : 'store_live_default');
      return new Map(ids.map((id) => [id, this.lastLive.get(id) ?? EMPTY_LIVE]));
    });
  }

  private liveFound(
    ids: string[],
    keys: string[],
    byKey: Map<string, StoreLiveSnapshot>,
  ): Map<string, StoreLiveSnapshot> {
    const out = new Map<string, StoreLiveSnapshot>();
    ids.forEach((id, i) => {
      const live = byKey.get(keys[i]!);
      if (!live) return;
      out.set(id, live);
      remember(this.lastLive, id, live);
    });
    return out;
  }

  /**
   * The cache's answer; or undefined when the store service failed, or was late while every id has a last known
   * value (then waiting longer buys nothing the caller needs).
   */
  private async orLastKnown<V>(
    load: Promise<Map<string, V>>,
    ids: string[],
    last: { has(id: string): boolean },
    what: string,
    deadlineMs: number,
  ): Promise<Map<string, V> | undefined> {
    const guarded = load.catch((e: unknown) => {
      this.warnStale({ err: e }, `store ${what} unavailable: serving last known values`);
      return undefined;
    });
    if (!ids.every((id) => last.has(id))) return guarded;
    return within(guarded, deadlineMs);
  }
}

/**
 * The catalog, with every write followed by `invalidate` of the written stores (their cached profiles, here, in L2
 * and, through the cache bus, in every replica). Also after a failed write: it may have reached the database.
 */
export function invalidateOnWrite(
  catalog: StoreCatalog,
  invalidate: (storeIds: readonly string[]) => Promise<void>,
): StoreCatalog {
  const after = async <T>(ids: readonly string[], write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } finally {
      await invalidate(ids);
    }
  };
  return {
    get: (id) => catalog.get(id),
    getMany: (ids) => catalog.getMany(ids),
    list: (options) => catalog.list(options),
    count: () => catalog.count(),
    close: () => catalog.close(),
    create: (store) => after([store.storeId], () => catalog.create(store)),
    put: (store) => after([store.storeId], () => catalog.put(store)),
    patch: (id, patch) => after([id], () => catalog.patch(id, patch)),
    delete: (id) => after([id], () => catalog.delete(id)),
    upsertMany: (stores) =>
      after(
        stores.map((s) => s.storeId),
        () => catalog.upsertMany(stores),
      ),
  };
}
