import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { deploymentSqliteFile, postgresRunner, sqliteRunner, type SqlRunner } from '../platform/index.js';
import { SqlModelRegistry } from './sql-registry.js';

export type RegistryDatabase =
  | { database: 'sqlite'; sqliteFile: string; busyTimeoutMs?: number }
  | { database: 'postgres'; postgresUrl: string; poolSize?: number };

/** The deployment's database as the store section configures it: the registry lives beside the catalog. */
export interface DeploymentDatabase {
  database: 'sqlite' | 'postgres';
  postgresUrl: string;
  sqlitePath: string;
}

/** Where the registry of a deployment is: in the catalog's database, so every process sees the same one. */
export function registryDatabaseOf(store: DeploymentDatabase, dataDir: string): RegistryDatabase {
  return store.database === 'postgres'
    ? { database: 'postgres', postgresUrl: store.postgresUrl }
    : { database: 'sqlite', sqliteFile: deploymentSqliteFile(store.sqlitePath, dataDir) };
}

/** A connection to the deployment's database: a runner for its SQL, and how to close it. */
export interface DatabaseConnection {
  db: SqlRunner;
  close(): Promise<void>;
}

/**
 * Opens the deployment's database. SQLite runs in WAL mode so the processes of a local cluster read while one
 * writes; a busy timeout makes concurrent writers queue instead of failing.
 */
export function openDeploymentDatabase(where: RegistryDatabase, what: string): DatabaseConnection {
  if (where.database === 'postgres') {
    if (!where.postgresUrl) throw new Error(`${what} needs a PostgreSQL URL (store.postgresUrl)`);
    const pool = new pg.Pool({ connectionString: where.postgresUrl, max: where.poolSize ?? 4 });
    pool.on('error', () => undefined);
    return { db: postgresRunner(pool), close: () => pool.end() };
  }
  mkdirSync(path.dirname(where.sqliteFile), { recursive: true });
  const db = new Database(where.sqliteFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.trunc(where.busyTimeoutMs ?? 5000)}`);
  return { db: sqliteRunner(db), close: async () => void db.close() };
}

/** The registry in the same database as the store catalog. */
export function openModelRegistry(where: RegistryDatabase): SqlModelRegistry {
  const { db, close } = openDeploymentDatabase(where, 'the model registry');
  return new SqlModelRegistry(db, close);
}
