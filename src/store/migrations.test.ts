import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runMigrations, sqliteRunner, STORE_MIGRATIONS, type Migration } from './migrations.js';

const KEYS: Migration[] = [
  {
    version: 1,
    name: 'create_api_keys',
    sql: 'CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL)',
  },
  { version: 2, name: 'add_scopes', sql: "ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT ''" },
];

describe('runMigrations', () => {
  it('runs each module’s list once, in order, beside the others', async () => {
    const db = sqliteRunner(new Database(':memory:'));
    expect(await runMigrations(db, 'store', STORE_MIGRATIONS)).toEqual(['create_stores']);
    expect(await runMigrations(db, 'gateway', KEYS.slice(0, 1))).toEqual(['create_api_keys']);
    expect(await runMigrations(db, 'gateway', KEYS)).toEqual(['add_scopes']);
    expect(await runMigrations(db, 'gateway', KEYS)).toEqual([]);
    expect(await runMigrations(db, 'store', STORE_MIGRATIONS)).toEqual([]);
    const rows = await db.query<{ module: string; version: number }>(
      'SELECT module, version FROM schema_migrations ORDER BY module, version',
    );
    expect(rows.map((r) => `${r.module}@${r.version}`)).toEqual(['gateway@1', 'gateway@2', 'store@1']);
  });

  it('applies nothing when one migration fails', async () => {
    const db = sqliteRunner(new Database(':memory:'));
    const broken: Migration[] = [KEYS[0]!, { version: 2, name: 'broken', sql: 'CREATE TABLE oops (' }];
    await expect(runMigrations(db, 'gateway', broken)).rejects.toThrow();
    expect(await db.query("SELECT name FROM sqlite_master WHERE name = 'api_keys'")).toEqual([]);
  });

  it('refuses a history that was edited, and versions out of order', async () => {
    const db = sqliteRunner(new Database(':memory:'));
    await runMigrations(db, 'gateway', KEYS);
    await expect(runMigrations(db, 'gateway', [{ ...KEYS[0]!, name: 'renamed' }])).rejects.toThrow(
      /ran as "create_api_keys"/,
    );
    await expect(runMigrations(db, 'x', [KEYS[1]!, KEYS[0]!])).rejects.toThrow(/strictly increasing/);
  });
});
