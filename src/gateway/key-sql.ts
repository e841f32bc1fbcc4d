import pg from 'pg';
import { migrateOnce, postgresRunner, type Migration, type SqlRunner } from '../platform/index.js';
import { SCOPES, type ApiKeyRecord, type Scope } from './api-keys.js';
import type { KeyBackend } from './key-backend.js';

/**
 * The API key tables, in the database of the model registry and the store catalog (module `api_keys` of
 * schema_migrations). `api_key_meta` holds the change counter every gateway polls (`revision`) and the row that
 * marks the first admin key as created (`first_admin`), whose primary key makes that bootstrap happen once.
 */
export const KEY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create_api_keys',
    sql: `
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  scopes TEXT NOT NULL,
  rate_limit_per_second INTEGER,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT,
  updated_at TEXT NOT NULL
);
CREATE TABLE api_key_meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL,
  at TEXT NOT NULL
);
INSERT INTO api_key_meta (name, value, at) VALUES ('revision', 0, '');`,
  },
];

interface KeyRow {
  id: string;
  name: string;
  hash: string;
  scopes: string;
  rate_limit_per_second: number | string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

const toRecord = (r: KeyRow): ApiKeyRecord => ({
  id: r.id,
  name: r.name,
  hash: r.hash,
  // A scope this build does not know (a newer gateway's) grants nothing here.
  scopes: r.scopes.split(',').filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)),
  rateLimitPerSecond: r.rate_limit_per_second === null ? null : Number(r.rate_limit_per_second),
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

/**
 * Keys in SQL. A change upserts its rows and bumps `revision` in one transaction; a poll reads `revision` (one row)
 * and reloads the table only when it moved. An upsert never clears a revocation nor extends an expiry, so a change
 * made from a slightly stale index cannot undo one made by another gateway.
 */
export class SqlKeyBackend implements KeyBackend {
  readonly kind = 'postgres' as const;
  readonly sync = false;
  private revision: number | undefined;
  private readonly ready: () => Promise<unknown>;

  constructor(
    private readonly db: SqlRunner,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    this.ready = migrateOnce(db, 'api_keys', KEY_MIGRATIONS);
  }

  async read(): Promise<ApiKeyRecord[] | 'unchanged'> {
    await this.ready();
    const [meta] = await this.db.query<{ value: number | string }>(
      `SELECT value FROM api_key_meta WHERE name = 'revision'`,
    );
    const revision = Number(meta?.value ?? 0);
    if (revision === this.revision) return 'unchanged';
    // Read after the counter: the rows are at least as new as it, so no change is missed (at worst read twice).
    const rows = await this.db.query<KeyRow>(
      'SELECT id, name, hash, scopes, rate_limit_per_second, created_at, expires_at, revoked_at FROM api_keys',
    );
    this.revision = revision;
    return rows.map(toRecord);
  }

  async write(changed: ApiKeyRecord[]): Promise<void> {
    await this.ready();
    await this.db.transaction(async (tx) => {
      for (const r of changed) await upsert(tx, r);
      await bump(tx);
    });
  }

  async bootstrap(record: ApiKeyRecord): Promise<boolean> {
    await this.ready();
    return this.db.transaction(async (tx) => {
      // A second gateway's insert waits on the first one's row, then does nothing: one key, printed once.
      const claimed = await tx.query<{ name: string }>(
        `INSERT INTO api_key_meta (name, value, at) VALUES ('first_admin', 1, $1)
         ON CONFLICT (name) DO NOTHING RETURNING name`,
        [new Date().toISOString()],
      );
      if (claimed.length === 0) return false;
      // Keys created before any gateway started (`etaserve keys create`): no first key, as with the file.
      const [existing] = await tx.query<{ n: number | string }>('SELECT count(*) AS n FROM api_keys');
      if (Number(existing?.n ?? 0) > 0) return false;
      await upsert(tx, record);
      await bump(tx);
      return true;
    });
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}

async function upsert(tx: SqlRunner, r: ApiKeyRecord): Promise<void> {
  await tx.query(
    `INSERT INTO api_keys (id, name, hash, scopes, rate_limit_per_second, created_at, expires_at, revoked_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (id) DO UPDATE SET
       expires_at = CASE WHEN api_keys.expires_at IS NULL OR excluded.expires_at < api_keys.expires_at
                         THEN excluded.expires_at ELSE api_keys.expires_at END,
       revoked_at = COALESCE(api_keys.revoked_at, excluded.revoked_at),
       updated_at = excluded.updated_at`,
    [
      r.id,
      r.name,
      r.hash,
      r.scopes.join(','),
      r.rateLimitPerSecond,
      r.createdAt,
      r.expiresAt,
      r.revokedAt,
      new Date().toISOString(),
    ],
  );
}

async function bump(tx: SqlRunner): Promise<void> {
  await tx.query(`UPDATE api_key_meta SET value = value + 1, at = $1 WHERE name = 'revision'`, [
    new Date().toISOString(),
  ]);
}

/**
 * The keys of a deployment whose catalog and registry are in PostgreSQL. Short timeouts: a poll against a database
 * that is down fails fast and the keys loaded before stay in force.
 */
export function openPostgresKeyBackend(postgresUrl: string): SqlKeyBackend {
  if (!postgresUrl) throw new Error('the API keys need a PostgreSQL URL (store.postgresUrl)');
  const pool = new pg.Pool({
    connectionString: postgresUrl,
    max: 2,
    connectionTimeoutMillis: 2000,
    query_timeout: 5000,
  });
  pool.on('error', () => undefined);
  return new SqlKeyBackend(postgresRunner(pool), () => pool.end());
}

/**
 * Where a deployment keeps its API keys: with its catalog and registry in PostgreSQL (every multi-process shape of a
 * fleet), there; otherwise (the demo and SQLite shapes, one machine) the data directory's file.
 */
export function keyBackendFor(
  store: { database: 'sqlite' | 'postgres'; postgresUrl: string },
  dataDir: string,
): KeyBackend | string {
  return store.database === 'postgres' ? openPostgresKeyBackend(store.postgresUrl) : dataDir;
}
