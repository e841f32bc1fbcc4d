import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { geoConfigSchema, type GeoConfig } from '../src/geo/index.js';
import {
  createPipelineModule,
  historyToEvents,
  lakeDirOf,
  pipelineConfigSchema,
  writeEventsToLake,
  type PipelineConfig,
} from '../src/pipeline/index.js';
import { createLogger, createMetrics } from '../src/platform/index.js';
import { openModelRegistry } from '../src/registry/index.js';
import { generateHistory, simulatorConfigSchema, type SimulatorConfig } from '../src/simulator/index.js';
import { openStoreCatalog, storeConfigSchema, type StoreConfig } from '../src/store/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'schedule-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the pipeline module’s scheduled run', () => {
  it('trains on simulated history until the lake holds enough orders, then on the lake through the SQL ETL', async () => {
    const now = Date.UTC(2026, 2, 10, 12);
    const simulator = Value.Default(simulatorConfigSchema, {
      days: 4,
      stores: 20,
      ordersPerDay: 250,
      seed: 5,
    }) as SimulatorConfig;
    const store = Value.Default(storeConfigSchema, {}) as StoreConfig;
    const pipeline = Value.Default(pipelineConfigSchema, {
      trees: 20,
      schedule: '',
      windowDays: 4,
      minLakeOrders: 500,
    }) as PipelineConfig;
    let clock = Date.now();
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      name: 'test',
      destination: { write: (l: string) => lines.push(l) },
    } as never);
    const ctx = {
      logger,
      metrics: createMetrics({ target: 'pipeline' }),
      platform: { dataDir: dir },
    } as never;
    const sqliteFile = path.join(dir, 'etaserve.db');
    const module = createPipelineModule(ctx, pipeline, {
      job: {
        dataDir: dir,
        geo: Value.Default(geoConfigSchema, {}) as GeoConfig,
        simulator,
        registry: { database: 'sqlite', sqliteFile },
        store,
      },
      isolation: 'inline',
      now: () => clock,
    });
    await module.service.start!(new AbortController().signal);

    const first = await module.runNow();
    expect(first).toMatchObject({ version: 'v1', promoted: true });
    expect(first!.source).toMatch(/^simulated/);

    // A city's events land in the lake and its stores in the catalog: the next run trains on them.
    const history = generateHistory({
      seed: 9,
      days: 4,
      stores: 20,
      ordersPerDay: 250,
      startMs: now - 4 * 86_400_000,
    });
    await writeEventsToLake(lakeDirOf(dir), historyToEvents(history));
    const catalog = await openStoreCatalog(store, { dataDir: dir });
    await catalog.upsertMany(history.stores);
    await catalog.close();
    clock = now;
    const second = await module.runNow();
    expect(second!.source).toMatch(/^parquet:lake/);
    expect(second!.version).toBe('v2');
    expect(second!.decision).toMatch(/^(promote|keep the champion)/);
    const registry = openModelRegistry({ database: 'sqlite', sqliteFile });
    expect((await registry.list()).map((r) => r.version)).toEqual(['v2', 'v1']);
    await registry.close();
    expect((await readdir(path.join(dir, 'reports'))).length).toBe(2);
    await module.service.stop!();
  }, 120_000);
});
