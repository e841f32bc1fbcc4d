import { LRUCache } from 'lru-cache';
import { isEtaError } from '../platform/index.js';
import type { ListOptions, PutResult, StoreCatalog, StorePage, UpsertManyResult } from './catalog.js';
import type { NewStore, Store } from './types.js';
import type { StorePatch } from './validate.js';

export interface ProfileCacheOptions {
  /** Entries; 0 turns the cache off. */
  size: number;
  /** How long an entry is served without reading the database again. */
  ttlMs: number;
  now?: () => number;
  onLookup?: (result: 'hit' | 'miss' | 'stale') => void;
}

interface Entry {
  store: Store;
  loadedAt: number;
}

/**
 * A store catalog with an in-process LRU of profiles in front: the predictor asks for the same popular stores many
 * times a second. Writes through it drop the entry; writes through another process show up after `ttlMs` (the cache
 * module's invalidation bus can call `invalidate` later). When the database is down, expired entries still answer.
 */
export class CachedCatalog implements StoreCatalog {
  private readonly lru: LRUCache<string, Entry> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly inner: StoreCatalog,
    private readonly options: ProfileCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.lru = options.size > 0 ? new LRUCache<string, Entry>({ max: options.size }) : undefined;
  }

  /** Whatever is cached, fresh or not, without touching the database: for a store's timezone on an event. */
  peek(storeId: string): Store | undefined {
    return this.lru?.peek(storeId)?.store;
  }

  invalidate(storeId: string): void {
    this.lru?.delete(storeId);
  }

  clear(): void {
    this.lru?.clear();
  }

  async get(storeId: string): Promise<Store | undefined> {
    return (await this.getMany([storeId])).get(storeId);
  }

  async getMany(storeIds: readonly string[]): Promise<Map<string, Store>> {
    const lru = this.lru;
    if (!lru) return this.inner.getMany(storeIds);
    const now = this.now();
    const out = new Map<string, Store>();
    const wanted = new Set<string>();
    for (const id of storeIds) {
      const entry = lru.get(id);
      if (entry && now - entry.loadedAt < this.options.ttlMs) {
        out.set(id, entry.store);
        this.options.onLookup?.('hit');
      } else wanted.add(id);
    }
    if (wanted.size === 0) return out;
    const missing = [...wanted];
    let loaded: Map<string, Store>;
    try {
      loaded = await this.inner.getMany(missing);
    } catch (e) {
      // Database down: serve what we have seen, if we have seen all of it.
      if (!isEtaError(e) || e.code !== 'database_unavailable') throw e;
      const stale = missing.map((id) => lru.get(id));
      if (stale.some((entry) => entry === undefined)) throw e;
      for (const entry of stale) {
        out.set(entry!.store.storeId, entry!.store);
        this.options.onLookup?.('stale');
      }
      return out;
    }
    for (const id of missing) {
      this.options.onLookup?.('miss');
      const store = loaded.get(id);
      if (store) {
        lru.set(id, { store, loadedAt: now });
        out.set(id, store);
      } else lru.delete(id);
    }
    return out;
  }

  list(options?: ListOptions): Promise<StorePage> {
    return this.inner.list(options);
  }

  count(): Promise<number> {
    return this.inner.count();
  }

  private async write<T>(ids: readonly string[], fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      // Also after a failure: the write may have reached the database before the error did.
      for (const id of ids) this.invalidate(id);
    }
  }

  create(store: NewStore): Promise<Store> {
    return this.write([store.storeId], () => this.inner.create(store));
  }

  put(store: NewStore): Promise<PutResult> {
    return this.write([store.storeId], () => this.inner.put(store));
  }

  patch(storeId: string, patch: StorePatch): Promise<Store> {
    return this.write([storeId], () => this.inner.patch(storeId, patch));
  }

  delete(storeId: string): Promise<void> {
    return this.write([storeId], () => this.inner.delete(storeId));
  }

  upsertMany(stores: readonly NewStore[]): Promise<UpsertManyResult> {
    return this.write(
      stores.map((s) => s.storeId),
      () => this.inner.upsertMany(stores),
    );
  }

  close(): Promise<void> {
    this.clear();
    return this.inner.close();
  }
}
