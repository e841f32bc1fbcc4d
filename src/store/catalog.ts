import { EtaError } from '../platform/index.js';
import { badField } from './errors.js';
import { WEEKDAYS, type NewStore, type OpeningHours, type Store } from './types.js';
import { validateStore, type OpeningHoursPatch, type StorePatch } from './validate.js';

export interface ListOptions {
  /** Capped at the catalog's page size; default 100. */
  limit?: number | undefined;
  /** `nextCursor` of the previous page; absent for the first. */
  cursor?: string | null | undefined;
}

export interface StorePage {
  stores: Store[];
  /** null on the last page. */
  nextCursor: string | null;
}

export interface PutResult {
  store: Store;
  /** true when the store did not exist before. */
  created: boolean;
}

export interface UpsertManyResult {
  created: number;
  updated: number;
}

/**
 * The store catalog: profiles in SQL. SQLite and PostgreSQL implement it in-process, `StoreClient` over HTTP.
 * Errors are `EtaError`s: `store_not_found`, `store_exists`, `bad_request` (with the field), `database_unavailable`.
 * Every write validates the store, whoever the caller.
 */
export interface StoreCatalog {
  /** undefined when there is no such store. */
  get(storeId: string): Promise<Store | undefined>;
  /** Unknown ids are absent from the map. */
  getMany(storeIds: readonly string[]): Promise<Map<string, Store>>;
  /** Ordered by store_id; a page is stable under concurrent inserts (keyset, not offset). */
  list(options?: ListOptions): Promise<StorePage>;
  /** Throws `store_exists` if the id is taken. */
  create(store: NewStore): Promise<Store>;
  /** Creates or replaces; a replaced store keeps its `createdAt`. */
  put(store: NewStore): Promise<PutResult>;
  /** Throws `store_not_found`. The merged store is validated as a whole (p90 against a new mean). */
  patch(storeId: string, patch: StorePatch): Promise<Store>;
  /** Throws `store_not_found`. */
  delete(storeId: string): Promise<void>;
  /** All or nothing, in one transaction. */
  upsertMany(stores: readonly NewStore[]): Promise<UpsertManyResult>;
  count(): Promise<number>;
  close(): Promise<void>;
}

export const DEFAULT_PAGE_SIZE = 100;
const CURSOR_PREFIX = 's1:';

/** Opaque to callers, so the key can change without breaking them; versioned for the same reason. */
export function encodeCursor(lastStoreId: string): string {
  return Buffer.from(CURSOR_PREFIX + lastStoreId, 'utf8').toString('base64url');
}

/** The store id after which the page starts; `bad_request` on `cursor` when it was not made by `encodeCursor`. */
export function decodeCursor(cursor: string): string {
  const decoded = /^[A-Za-z0-9_-]{1,200}$/.test(cursor)
    ? Buffer.from(cursor, 'base64url').toString('utf8')
    : '';
  if (!decoded.startsWith(CURSOR_PREFIX) || decoded.length === CURSOR_PREFIX.length) {
    throw badField('cursor', 'is not a cursor this API returned');
  }
  return decoded.slice(CURSOR_PREFIX.length);
}

export function pageLimit(limit: number | undefined, maxPageSize: number): number {
  if (limit === undefined) return Math.min(DEFAULT_PAGE_SIZE, maxPageSize);
  if (!Number.isInteger(limit) || limit < 1) throw badField('limit', 'must be a positive integer');
  return Math.min(limit, maxPageSize);
}

/** Throws `bad_request` naming the first bad field (prefixed for bulk: `stores.3.location.lat`). */
export function assertValid(store: NewStore, prefix = ''): void {
  const issues = validateStore(store);
  const first = issues[0];
  if (first) {
    const field = prefix + first.field;
    throw new EtaError('bad_request', `${field}: ${first.message}`, {
      field,
      details:
        issues.length > 1 ? { issues: issues.map((i) => ({ ...i, field: prefix + i.field })) } : undefined,
    });
  }
}

/**
 * A PATCH's hours merged by day into the current week: a day present replaces that day, `[]` or `null` closes it,
 * a day absent is unchanged. A store open 24/7 (`{}`) is first written out as seven whole days, so changing
 * Monday does not close the other six.
 */
export function mergeOpeningHours(current: OpeningHours, patch: OpeningHoursPatch): OpeningHours {
  if (Object.keys(patch).length === 0) return current;
  const week: OpeningHours =
    Object.keys(current).length === 0
      ? Object.fromEntries(WEEKDAYS.map((d) => [d, [['00:00', '24:00']]]))
      : { ...current };
  for (const day of WEEKDAYS) {
    if (!(day in patch)) continue;
    const intervals = patch[day];
    week[day] = intervals ?? [];
  }
  return week;
}

export function applyPatch(current: Store, patch: StorePatch): NewStore {
  return {
    storeId: current.storeId,
    name: patch.name ?? current.name,
    location: patch.location ?? current.location,
    category: patch.category ?? current.category,
    timezone: patch.timezone ?? current.timezone,
    openingHours: patch.openingHours
      ? mergeOpeningHours(current.openingHours, patch.openingHours)
      : current.openingHours,
    deliveryRadiusKm: patch.deliveryRadiusKm ?? current.deliveryRadiusKm,
    prepProfile: patch.prepProfile ?? current.prepProfile,
  };
}

/**
 * Every store of the catalog, page by page (for training, which joins orders to their stores), or the first pages
 * that hold `max` of them.
 */
export async function listAllStores(
  catalog: Pick<StoreCatalog, 'list'>,
  pageSize = 500,
  max = Infinity,
): Promise<Store[]> {
  const stores: Store[] = [];
  let cursor: string | null = null;
  do {
    const page: StorePage = await catalog.list({ limit: pageSize, cursor });
    stores.push(...page.stores);
    cursor = page.nextCursor;
  } while (cursor && stores.length < max);
  return stores;
}
