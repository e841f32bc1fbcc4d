import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { EtaError } from '../platform/index.js';
import {
  applyPatch,
  assertValid,
  decodeCursor,
  encodeCursor,
  pageLimit,
  type ListOptions,
  type PutResult,
  type StoreCatalog,
  type StorePage,
  type UpsertManyResult,
} from './catalog.js';
import { databaseUnavailable, storeExists, storeNotFound } from './errors.js';
import { runMigrations, sqliteRunner, STORE_MIGRATIONS } from './migrations.js';
import { lastOfEachId, rowToStore, STORE_COLUMNS, storeToRow, type StoreRow } from './rows.js';
import type { NewStore, Store } from './types.js';
import type { StorePatch } from './validate.js';

export interface SqliteCatalogOptions {
  maxPageSize: number;
  /** Waits this long for another process's write lock before failing as `database_unavailable`. */
  busyTimeoutMs?: number;
  now?: () => number;
}

/** Errors that say the database cannot serve now (locked, disk, closed), as opposed to a bad statement. */
function isUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') {
    return /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY|CORRUPT|NOTADB|PROTOCOL|NOMEM)/.test(code);
  }
  return e instanceof TypeError && /database connection is not open/.test(e.message);
}

/** Opens (creating the directory and file) with WAL and runs the store's migrations. */
export async function openSqliteCatalog(file: string, options: SqliteCatalogOptions): Promise<SqliteCatalog> {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(file);
    // WAL: readers never wait for the writer; NORMAL is durable across process crashes, which is what WAL needs.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    await runMigrations(sqliteRunner(db), 'store', STORE_MIGRATIONS);
  } catch (e) {
    throw databaseUnavailable(`opening ${file}`, e);
  }
  return new SqliteCatalog(db, options);
}

const COLUMNS = STORE_COLUMNS.join(', ');
const VALUES = STORE_COLUMNS.map((c) => `@${c}`).join(', ');
const UPDATES = STORE_COLUMNS.filter((c) => c !== 'store_id' && c !== 'created_at')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');

/** better-sqlite3 is synchronous and fast: each call is a few microseconds, so there is no pool and no await. */
export class SqliteCatalog implements StoreCatalog {
  private readonly now: () => number;
  private readonly stmt;
  private readonly upsertAll;

  constructor(
    private readonly db: Database.Database,
    private readonly options: SqliteCatalogOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.stmt = {
      get: db.prepare<[string], StoreRow>('SELECT * FROM stores WHERE store_id = ?'),
      getMany: db.prepare<[string], StoreRow>(
        'SELECT * FROM stores WHERE store_id IN (SELECT value FROM json_each(?))',
      ),
      page: db.prepare<[string, number], StoreRow>(
        'SELECT * FROM stores WHERE store_id > ? ORDER BY store_id LIMIT ?',
      ),
      exists: db.prepare<[string], { created_at: string }>(
        'SELECT created_at FROM stores WHERE store_id = ?',
      ),
      insert: db.prepare<[StoreRow]>(`INSERT INTO stores (${COLUMNS}) VALUES (${VALUES})`),
      upsert: db.prepare<[StoreRow]>(
        `INSERT INTO stores (${COLUMNS}) VALUES (${VALUES}) ON CONFLICT (store_id) DO UPDATE SET ${UPDATES}`,
      ),
      delete: db.prepare<[string]>('DELETE FROM stores WHERE store_id = ?'),
      count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM stores'),
    };
    this.upsertAll = db.transaction((stores: NewStore[], at: string): UpsertManyResult => {
      let created = 0;
      for (const store of stores) {
        const existing = this.stmt.exists.get(store.storeId);
        if (!existing) created++;
        this.stmt.upsert.run(storeToRow(store, existing?.created_at ?? at, at));
      }
      return { created, updated: stores.length - created };
    });
  }

  private run<T>(what: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      if (e instanceof EtaError) return Promise.reject(e);
      if (isUnavailable(e)) return Promise.reject(databaseUnavailable(what, e));
      return Promise.reject(new EtaError('internal', `store catalog failed (${what})`, { cause: e }));
    }
  }

  private stamp(): string {
    return new Date(this.now()).toISOString();
  }

  get(storeId: string): Promise<Store | undefined> {
    return this.run('get', () => {
      const row = this.stmt.get.get(storeId);
      return row && rowToStore(row);
    });
  }

  getMany(storeIds: readonly string[]): Promise<Map<string, Store>> {
    return this.run('getMany', () => {
      const out = new Map<string, Store>();
      if (storeIds.length === 0) return out;
      for (const row of this.stmt.getMany.all(JSON.stringify(storeIds)))
        out.set(row.store_id, rowToStore(row));
      return out;
    });
  }

  list(options: ListOptions = {}): Promise<StorePage> {
    return this.run('list', () => {
      const limit = pageLimit(options.limit, this.options.maxPageSize);
      const after = options.cursor ? decodeCursor(options.cursor) : '';
      const rows = this.stmt.page.all(after, limit + 1);
      const stores = rows.slice(0, limit).map(rowToStore);
      return {
        stores,
        nextCursor: rows.length > limit ? encodeCursor(stores[stores.length - 1]!.storeId) : null,
      };
    });
  }

  create(store: NewStore): Promise<Store> {
    return this.run('create', () => {
      assertValid(store);
      const at = this.stamp();
      const row = storeToRow(store, at, at);
      try {
        this.stmt.insert.run(row);
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
          throw storeExists(store.storeId);
        throw e;
      }
      return rowToStore(row);
    });
  }

  put(store: NewStore): Promise<PutResult> {
    return this.run('put', () => {
      assertValid(store);
      const at = this.stamp();
      return this.db.transaction((): PutResult => {
        const existing = this.stmt.exists.get(store.storeId);
        const row = storeToRow(store, existing?.created_at ?? at, at);
        this.stmt.upsert.run(row);
        return { store: rowToStore(row), created: !existing };
      })();
    });
  }

  patch(storeId: string, patch: StorePatch): Promise<Store> {
    return this.run('patch', () =>
      this.db.transaction((): Store => {
        const row = this.stmt.get.get(storeId);
        if (!row) throw storeNotFound(storeId);
        const merged = applyPatch(rowToStore(row), patch);
        assertValid(merged);
        const next = storeToRow(merged, row.created_at, this.stamp());
        this.stmt.upsert.run(next);
        return rowToStore(next);
      })(),
    );
  }

  delete(storeId: string): Promise<void> {
    return this.run('delete', () => {
      if (this.stmt.delete.run(storeId).changes === 0) throw storeNotFound(storeId);
    });
  }

  upsertMany(stores: readonly NewStore[]): Promise<UpsertManyResult> {
    return this.run('upsertMany', () => {
      stores.forEach((s, i) => assertValid(s, `stores.${i}.`));
      return this.upsertAll(lastOfEachId(stores), this.stamp());
    });
  }

  count(): Promise<number> {
    return this.run('count', () => this.stmt.count.get()!.n);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
