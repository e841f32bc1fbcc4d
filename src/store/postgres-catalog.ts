import pg from 'pg';
import { EtaError, type Logger } from '../platform/index.js';
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
import { postgresRunner, runMigrations, STORE_MIGRATIONS } from './migrations.js';
import { lastOfEachId, rowToStore, STORE_COLUMNS, storeToRow, type StoreRow } from './rows.js';
import type { NewStore, Store } from './types.js';
import type { StorePatch } from './validate.js';

export interface PostgresCatalogOptions {
  maxPageSize: number;
  poolSize: number;
  /** Connecting and each statement; past it the call fails as `database_unavailable` instead of hanging. */
  queryTimeoutMs: number;
  logger?: Logger;
  now?: () => number;
}

/**
 * SQLSTATE classes that mean "not now" rather than "wrong": connection (08), resources (53), operator intervention
 * (57: shutdown, statement timeout), system (58), serialization (40). Node's socket errors (ECONNREFUSED) and
 * pg's own (connection terminated, pool timeout) are the network.
 */
function isUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return /^(08|53|57|58|40)/.test(code);
  return e instanceof Error && /connect|timeout|terminated|not queryable|after calling end/i.test(e.message);
}

/** Connects lazily (pg pools do), then runs the store's migrations, which also proves the database answers. */
export async function openPostgresCatalog(
  url: string,
  options: PostgresCatalogOptions,
): Promise<PostgresCatalog> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize,
    connectionTimeoutMillis: options.queryTimeoutMs,
    query_timeout: options.queryTimeoutMs,
    statement_timeout: options.queryTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'etaserve-store',
  });
  // An idle client losing its connection emits here; unhandled, it would crash the process.
  pool.on('error', (e) => options.logger?.warn({ err: e }, 'idle PostgreSQL connection failed'));
  try {
    await runMigrations(postgresRunner(pool), 'store', STORE_MIGRATIONS);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw databaseUnavailable('migrating', e);
  }
  return new PostgresCatalog(pool, options);
}

const COLUMNS = STORE_COLUMNS.join(', ');
const UPDATES = STORE_COLUMNS.filter((c) => c !== 'store_id' && c !== 'created_at')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');
const ARRAY_TYPES: Record<(typeof STORE_COLUMNS)[number], string> = {
  store_id: 'text[]',
  name: 'text[]',
  lat: 'float8[]',
  lng: 'float8[]',
  category: 'text[]',
  timezone: 'text[]',
  opening_hours: 'text[]',
  delivery_radius_km: 'float8[]',
  prep_mean_s: 'float8[]',
  prep_p90_s: 'float8[]',
  created_at: 'text[]',
  updated_at: 'text[]',
};
/** One statement for a whole batch: each column an array, unnest makes rows. `xmax = 0` is true for an insert. */
const UPSERT = `INSERT INTO stores (${COLUMNS})
  SELECT * FROM unnest(${STORE_COLUMNS.map((c, i) => `$${i + 1}::${ARRAY_TYPES[c]}`).join(', ')})
  ON CONFLICT (store_id) DO UPDATE SET ${UPDATES}
  RETURNING (xmax = 0) AS inserted, ${COLUMNS}`;
const BATCH = 1000;

export class PostgresCatalog implements StoreCatalog {
  private readonly now: () => number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresCatalogOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof EtaError) throw e;
      if (isUnavailable(e)) throw databaseUnavailable(what, e);
      throw new EtaError('internal', `store catalog failed (${what})`, { cause: e });
    }
  }

  private async rows(
    sql: string,
    params: unknown[],
    client: pg.Pool | pg.PoolClient = this.pool,
  ): Promise<StoreRow[]> {
    return (await client.query<StoreRow>(sql, params)).rows;
  }

  private async upsert(
    client: pg.Pool | pg.PoolClient,
    stores: readonly NewStore[],
  ): Promise<Array<StoreRow & { inserted: boolean }>> {
    const at = new Date(this.now()).toISOString();
    const rows = stores.map((s) => storeToRow(s, at, at));
    const params = STORE_COLUMNS.map((c) => rows.map((r) => r[c]));
    return (await client.query<StoreRow & { inserted: boolean }>(UPSERT, params)).rows;
  }

  /** A pooled client in a transaction: BEGIN, fn, COMMIT; ROLLBACK on any error. */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  get(storeId: string): Promise<Store | undefined> {
    return this.run('get', async () => {
      const [row] = await this.rows('SELECT * FROM stores WHERE store_id = $1', [storeId]);
      return row && rowToStore(row);
    });
  }

  getMany(storeIds: readonly string[]): Promise<Map<string, Store>> {
    return this.run('getMany', async () => {
      const out = new Map<string, Store>();
      if (storeIds.length === 0) return out;
      const rows = await this.rows('SELECT * FROM stores WHERE store_id = ANY($1::text[])', [[...storeIds]]);
      for (const row of rows) out.set(row.store_id, rowToStore(row));
      return out;
    });
  }

  list(options: ListOptions = {}): Promise<StorePage> {
    return this.run('list', async () => {
      const limit = pageLimit(options.limit, this.options.maxPageSize);
      const after = options.cursor ? decodeCursor(options.cursor) : '';
      const rows = await this.rows('SELECT * FROM stores WHERE store_id > $1 ORDER BY store_id LIMIT $2', [
        after,
        limit + 1,
      ]);
      const stores = rows.slice(0, limit).map(rowToStore);
      return {
        stores,
        nextCursor: rows.length > limit ? encodeCursor(stores[stores.length - 1]!.storeId) : null,
      };
    });
  }

  create(store: NewStore): Promise<Store> {
    return this.run('create', async () => {
      assertValid(store);
      const at = new Date(this.now()).toISOString();
      const row = storeToRow(store, at, at);
      try {
        await this.pool.query(
          `INSERT INTO stores (${COLUMNS}) VALUES (${STORE_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`,
          STORE_COLUMNS.map((c) => row[c]),
        );
      } catch (e) {
        if ((e as { code?: string }).code === '23505') throw storeExists(store.storeId);
        throw e;
      }
      return rowToStore(row);
    });
  }

  put(store: NewStore): Promise<PutResult> {
    return this.run('put', async () => {
      assertValid(store);
      const [row] = await this.upsert(this.pool, [store]);
      return { store: rowToStore(row!), created: row!.inserted };
    });
  }

  patch(storeId: string, patch: StorePatch): Promise<Store> {
    return this.run('patch', () =>
      this.transaction(async (client) => {
        // FOR UPDATE: two patches of different fields must not lose one another.
        const [row] = await this.rows(
          'SELECT * FROM stores WHERE store_id = $1 FOR UPDATE',
          [storeId],
          client,
        );
        if (!row) throw storeNotFound(storeId);
        const merged = applyPatch(rowToStore(row), patch);
        assertValid(merged);
        const [next] = await this.upsert(client, [merged]);
        return rowToStore(next!);
      }),
    );
  }

  delete(storeId: string): Promise<void> {
    return this.run('delete', async () => {
      const result = await this.pool.query('DELETE FROM stores WHERE store_id = $1', [storeId]);
      if (result.rowCount === 0) throw storeNotFound(storeId);
    });
  }

  upsertMany(stores: readonly NewStore[]): Promise<UpsertManyResult> {
    return this.run('upsertMany', async () => {
      stores.forEach((s, i) => assertValid(s, `stores.${i}.`));
      const unique = lastOfEachId(stores);
      return this.transaction(async (client) => {
        let created = 0;
        for (let i = 0; i < unique.length; i += BATCH) {
          const rows = await this.upsert(client, unique.slice(i, i + BATCH));
          created += rows.filter((r) => r.inserted).length;
        }
        return { created, updated: unique.length - created };
      });
    });
  }

  count(): Promise<number> {
    return this.run('count', async () => {
      const { rows } = await this.pool.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM stores');
      return rows[0]!.n;
    });
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
