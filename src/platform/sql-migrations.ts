import type BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';

/**
 * Versioned schema migrations for SQLite and PostgreSQL with the same SQL. Each module names its own list (the store
 * its tables, the model registry and API keys theirs later); `schema_migrations` records what ran, per module.
 * The SQL must be portable: TEXT, INTEGER, DOUBLE PRECISION, no AUTOINCREMENT/SERIAL, no dialect functions.
 * It lives in `platform` because the store and the model registry both keep their tables in the same database.
 */
export interface Migration {
  /** 1, 2, 3...: strictly increasing within a module, never reused. */
  version: number;
  /** Recorded beside the version; a different name for an applied version is refused (someone edited history). */
  name: string;
  /** One or more statements, no parameters. */
  sql: string;
}

/** What the runner needs of a database: the same calls over better-sqlite3 and a pg pool. */
export interface SqlRunner {
  readonly dialect: 'sqlite' | 'postgres';
  /** `$1, $2` placeholders on both dialects. */
  query<R extends object>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Several statements, no parameters. */
  exec(sql: string): Promise<void>;
  /** `fn` runs in one transaction (nested calls join it). */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
}

export function sqliteRunner(db: BetterSqlite3.Database): SqlRunner {
  const runner: SqlRunner = {
    dialect: 'sqlite',
    async query<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      // `$1` becomes the named `@p1`, so a parameter may appear twice or out of order, as on PostgreSQL.
      const stmt = db.prepare(sql.replace(/\$(\d+)/g, '@p$1'));
      const args = params.length === 0 ? [] : [Object.fromEntries(params.map((v, i) => [`p${i + 1}`, v]))];
      if (stmt.reader) return stmt.all(...args) as R[];
      stmt.run(...args);
      return [];
    },
    async exec(sql: string): Promise<void> {
      db.exec(sql);
    },
    async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
      if (db.inTransaction) return fn(runner);
      // IMMEDIATE takes the write lock now, so two processes migrating the same file run one after the other.
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(runner);
        db.exec('COMMIT');
        return result;
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      }
    },
  };
  return runner;
}

function pgRunner(target: pg.Pool | pg.PoolClient, inTransaction: boolean): SqlRunner {
  const runner: SqlRunner = {
    dialect: 'postgres',
    async query<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      return (await target.query(sql, params as unknown[])).rows as R[];
    },
    async exec(sql: string): Promise<void> {
      await target.query(sql);
    },
    async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
      if (inTransaction) return fn(runner);
      const client = await (target as pg.Pool).connect();
      try {
        await client.query('BEGIN');
        try {
          const result = await fn(pgRunner(client, true));
          await client.query('COMMIT');
          return result;
        } catch (e) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      } finally {
        client.release();
      }
    },
  };
  return runner;
}

export const postgresRunner = (pool: pg.Pool): SqlRunner => pgRunner(pool, false);

/** Any constant: every etaserve process migrating the same database queues on it. */
const MIGRATION_LOCK_KEY = 7_211_830_401;

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  module TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (module, version)
)`;

function checkList(module: string, migrations: readonly Migration[]): void {
  let last = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= last) {
      throw new Error(
        `migrations of ${module} must have strictly increasing positive versions (${m.version})`,
      );
    }
    last = m.version;
  }
}

/**
 * `runMigrations` once, on first use: every later call waits on the same run, and a failed run (the database was
 * down) is tried again by the next call instead of failing forever.
 */
export function migrateOnce(
  db: SqlRunner,
  module: string,
  migrations: readonly Migration[],
): () => Promise<unknown> {
  let run: Promise<unknown> | undefined;
  return () =>
    (run ??= runMigrations(db, module, migrations).catch((e: unknown) => {
      run = undefined;
      throw e;
    }));
}

/**
 * Applies the module's migrations that have not run, in order, in one transaction: all of them or none. Safe when
 * several processes start at once (they wait on a lock). Returns the names it applied.
 */
export async function runMigrations(
  db: SqlRunner,
  module: string,
  migrations: readonly Migration[],
): Promise<string[]> {
  checkList(module, migrations);
  return db.transaction(async (tx) => {
    if (tx.dialect === 'postgres') {
      // Also serialises CREATE TABLE IF NOT EXISTS, which races on PostgreSQL.
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    await tx.exec(CREATE_MIGRATIONS_TABLE);
    const rows = await tx.query<{ version: number | string; name: string }>(
      'SELECT version, name FROM schema_migrations WHERE module = $1',
      [module],
    );
    const applied = new Map(rows.map((r) => [Number(r.version), r.name]));
    const ran: string[] = [];
    for (const m of migrations) {
      const recorded = applied.get(m.version);
      if (recorded !== undefined) {
        if (recorded !== m.name) {
          throw new Error(
            `migration ${module} v${m.version} ran as "${recorded}" but this build names it "${m.name}"`,
          );
        }
        continue;
      }
      await tx.exec(m.sql);
      await tx.query(
        'INSERT INTO schema_migrations (module, version, name, applied_at) VALUES ($1, $2, $3, $4)',
        [module, m.version, m.name, new Date().toISOString()],
      );
      ran.push(m.name);
    }
    return ran;
  });
}
