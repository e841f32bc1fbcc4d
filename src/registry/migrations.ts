import type { Migration } from '../platform/index.js';

/** The model registry's tables, in the catalog's database; portable SQL for SQLite and PostgreSQL. */
export const REGISTRY_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create_model_registry',
    sql: `
CREATE TABLE model_versions (
  version_number INTEGER PRIMARY KEY,
  version TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  source TEXT NOT NULL,
  metrics TEXT NOT NULL,
  artifact TEXT NOT NULL,
  golden TEXT,
  profile TEXT
);
CREATE TABLE model_aliases (
  alias TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE model_alias_history (
  seq INTEGER PRIMARY KEY,
  alias TEXT NOT NULL,
  version TEXT,
  previous TEXT,
  at TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX model_alias_history_alias ON model_alias_history (alias, seq);`,
  },
  {
    version: 2,
    name: 'model_domain_evaluation_audit',
    sql: `
ALTER TABLE model_versions ADD COLUMN domain TEXT;
ALTER TABLE model_versions ADD COLUMN evaluation TEXT;
CREATE TABLE model_audit (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  action TEXT NOT NULL,
  version TEXT,
  previous TEXT,
  actor TEXT NOT NULL,
  forced INTEGER NOT NULL,
  reason TEXT,
  summary TEXT NOT NULL
);`,
  },
  {
    version: 3,
    name: 'model_zone_speeds',
    // The zone speeds a version was trained with, so that geo in any process serves the champion's own speeds.
    sql: `ALTER TABLE model_versions ADD COLUMN zone_speeds TEXT;`,
  },
  {
    version: 4,
    name: 'model_online_ranges',
    // Each version's online range state (per-segment ACI) and the log position it was fed up to: predictors serve
    // it, and its feeder resumes from it after a restart (docs/model.md, "Serving").
    sql: `
CREATE TABLE model_online_ranges (
  version TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  log_offset TEXT NOT NULL,
  saved_at TEXT NOT NULL
);`,
  },
  {
    version: 5,
    name: 'model_order_legs',
    // The order-leg models trained with a version (docs/orders.md): the orders module serves the champion's.
    sql: `ALTER TABLE model_versions ADD COLUMN order_legs TEXT;`,
  },
];
