import { chunks, EtaError, isEtaError, type HttpClient } from '../platform/index.js';
import type { ListOptions, PutResult, StoreCatalog, StorePage, UpsertManyResult } from './catalog.js';
import { fromFeatureJson, fromLiveJson, fromStoreJson, toNewStoreJson, toPatchJson } from './json.js';
import { STORE_INTERNAL_PREFIX } from './routes.js';
import {
  MAX_BULK_STORES,
  MAX_FEATURE_IDS,
  type FeaturesResponse,
  type LiveResponse,
  type StoreJson,
  type StoreListResponse,
} from './schemas.js';
import type {
  NewStore,
  Store,
  StoreFeatureRecord,
  StoreFeatures,
  StoreLiveSnapshot,
  StoreLiveSource,
} from './types.js';
import { STORE_ID_PATTERN, type StorePatch } from './validate.js';

const p = STORE_INTERNAL_PREFIX;
const path = (storeId: string): string => `${p}/stores/${encodeURIComponent(storeId)}`;

/** An id the server would refuse cannot name a store: absent, as in-process, rather than failing the batch. */
const validIds = (ids: readonly string[]): string[] =>
  [...new Set(ids)].filter((id) => STORE_ID_PATTERN.test(id));

/** The server numbers the stores of one request; the caller numbers all of them. */
function offsetField(e: unknown, offset: number): unknown {
  if (offset === 0 || !isEtaError(e) || !e.field) return e;
  const m = /^stores\.(\d+)\./.exec(e.field);
  if (!m) return e;
  const at = `stores.${Number(m[1]) + offset}.`;
  return new EtaError(e.code, e.message.replace(m[0], at), { field: e.field.replace(m[0], at), cause: e });
}

/**
 * A store process over HTTP, behind the same interfaces as the in-process module, so the gateway and the predictor
 * cannot tell the difference. Remote errors keep their codes (`store_not_found`, `bad_request` with its field);
 * an unreachable store is `upstream_unavailable`. `upsertMany` is atomic per request of up to 1000 stores only.
 */
export class StoreClient implements StoreFeatures, StoreLiveSource, StoreCatalog {
  constructor(private readonly http: HttpClient) {}

  async getStoreFeatures(
    storeIds: readonly string[],
    atMs: number,
  ): Promise<Map<string, StoreFeatureRecord>> {
    const out = new Map<string, StoreFeatureRecord>();
    const pages = await Promise.all(
      chunks(validIds(storeIds), MAX_FEATURE_IDS).map((ids) =>
        this.http.request<FeaturesResponse>('POST', `${p}/features`, { store_ids: ids, at_ms: atMs }),
      ),
    );
    for (const page of pages) for (const r of page.stores) out.set(r.store_id, fromFeatureJson(r));
    return out;
  }

  async getLive(storeIds: readonly string[]): Promise<Map<string, StoreLiveSnapshot>> {
    const out = new Map<string, StoreLiveSnapshot>();
    const pages = await Promise.all(
      chunks(validIds(storeIds), MAX_FEATURE_IDS).map((ids) =>
        this.http.request<LiveResponse>('POST', `${p}/live`, { store_ids: ids }),
      ),
    );
    for (const page of pages) for (const s of page.stores) out.set(s.store_id, fromLiveJson(s));
    return out;
  }

  async get(storeId: string): Promise<Store | undefined> {
    if (!STORE_ID_PATTERN.test(storeId)) return undefined;
    try {
      return fromStoreJson(await this.http.request<StoreJson>('GET', path(storeId)));
    } catch (e) {
      if (isEtaError(e) && e.code === 'store_not_found') return undefined;
      throw e;
    }
  }

  async getMany(storeIds: readonly string[]): Promise<Map<string, Store>> {
    const out = new Map<string, Store>();
    const pages = await Promise.all(
      chunks(validIds(storeIds), MAX_FEATURE_IDS).map((ids) =>
        this.http.request<{ stores: StoreJson[] }>('POST', `${p}/lookup`, { store_ids: ids }),
      ),
    );
    for (const page of pages) for (const s of page.stores) out.set(s.store_id, fromStoreJson(s));
    return out;
  }

  async list(options: ListOptions = {}): Promise<StorePage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.cursor) query.set('cursor', options.cursor);
    const qs = query.size > 0 ? `?${query}` : '';
    const page = await this.http.request<StoreListResponse>('GET', `${p}/stores${qs}`);
    return { stores: page.stores.map(fromStoreJson), nextCursor: page.next_cursor };
  }

  async create(store: NewStore): Promise<Store> {
    return fromStoreJson(await this.http.request<StoreJson>('POST', `${p}/stores`, toNewStoreJson(store)));
  }

  async put(store: NewStore): Promise<PutResult> {
    const res = await this.http.request<{ store: StoreJson; created: boolean }>(
      'PUT',
      path(store.storeId),
      toNewStoreJson(store),
    );
    return { store: fromStoreJson(res.store), created: res.created };
  }

  async patch(storeId: string, patch: StorePatch): Promise<Store> {
    return fromStoreJson(await this.http.request<StoreJson>('PATCH', path(storeId), toPatchJson(patch)));
  }

  async delete(storeId: string): Promise<void> {
    await this.http.request<undefined>('DELETE', path(storeId));
  }

  async upsertMany(stores: readonly NewStore[]): Promise<UpsertManyResult> {
    const total = { created: 0, updated: 0 };
    const batches = chunks(stores, MAX_BULK_STORES);
    for (const [n, batch] of batches.entries()) {
      let res: UpsertManyResult;
      try {
        res = await this.http.request<UpsertManyResult>('POST', `${p}/bulk`, {
          stores: batch.map(toNewStoreJson),
        });
      } catch (e) {
        throw offsetField(e, n * MAX_BULK_STORES);
      }
      total.created += res.created;
      total.updated += res.updated;
    }
    return total;
  }

  async count(): Promise<number> {
    return (await this.http.request<{ count: number }>('GET', `${p}/count`)).count;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
