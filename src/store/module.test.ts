import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, createMetrics, platformConfigSchema, type PlatformConfig } from '../platform/index.js';
import { storeConfigSchema, type StoreConfig } from './config.js';
import { createStoreModule } from './module.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-store-module-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ctx = {
  logger: createLogger({ level: 'silent' }),
  metrics: createMetrics(),
  platform: { ...(Value.Default(platformConfigSchema, {}) as PlatformConfig), dataDir: dir },
};
const defaults = Value.Default(storeConfigSchema, {}) as StoreConfig;

describe('createStoreModule', () => {
  it('defaults to SQLite in the data directory', () => {
    expect(defaults).toMatchObject({ port: 8091, database: 'sqlite', sqlitePath: '', maxPageSize: 500 });
  });

  it('opens the database at start, is unready before, and closes at stop', async () => {
    const mod = createStoreModule(ctx, defaults);
    expect(mod.service.check!()).toEqual({ ready: false, reason: 'catalog not open' });
    await expect(mod.catalog.count()).rejects.toMatchObject({ code: 'not_ready', status: 503 });
    await mod.service.start!(new AbortController().signal);
    expect(mod.service.check!().ready).toBe(true);
    expect(await mod.catalog.count()).toBe(0);
    await mod.service.stop!();
    await expect(mod.catalog.count()).rejects.toMatchObject({ code: 'not_ready' });
    // A second module (another process) finds the same file, already migrated.
    const again = createStoreModule(ctx, defaults);
    await again.service.start!(new AbortController().signal);
    await again.service.stop!();
  });

  it('refuses to start on PostgreSQL without a URL', async () => {
    const mod = createStoreModule(ctx, { ...defaults, database: 'postgres' });
    await expect(mod.service.start!(new AbortController().signal)).rejects.toThrow(/postgresUrl/);
  });
});
