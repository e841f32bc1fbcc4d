import type { Migration } from '../platform/index.js';

// The runner moved to `platform` (the model registry migrates the same database); re-exported for store callers.
export {
  postgresRunner,
  runMigrations,
  sqliteRunner,
  type Migration,
  type SqlRunner,
} from '../platform/index.js';

/** The store module's tables. */
export const STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create_stores',
    sql: `
CREATE TABLE stores (
  store_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  lat DOUBLE PRECISION NOT NULL,
  lng DOUBLE PRECISION NOT NULL,
  category TEXT NOT NULL,
  timezone TEXT NOT NULL,
  opening_hours TEXT NOT NULL,
  delivery_radius_km DOUBLE PRECISION NOT NULL,
  prep_mean_s DOUBLE PRECISION NOT NULL,
  prep_p90_s DOUBLE PRECISION NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX stores_category ON stores (category);`,
  },
];
