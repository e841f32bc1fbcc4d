import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { geoConfigSchema, type GeoConfig } from '../src/geo/index.js';
import { pipelineConfigSchema, scheduledRun, type PipelineConfig } from '../src/pipeline/index.js';
import { openModelRegistry } from '../src/registry/index.js';
import { simulatorConfigSchema, type SimulatorConfig } from '../src/simulator/index.js';
import { storeConfigSchema, type StoreConfig } from '../src/store/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'promotion-schedule-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the demo’s schedule does not pile up versions', () => {
  it('trains the first model on the simulated city, then skips ticks while the lake holds too little', async () => {
    const sqliteFile = path.join(dir, 'etaserve.db');
    const spec = {
      dataDir: dir,
      pipeline: Value.Default(pipelineConfigSchema, { trees: 10, minLakeOrders: 500 }) as PipelineConfig,
      geo: Value.Default(geoConfigSchema, {}) as GeoConfig,
      simulator: Value.Default(simulatorConfigSchema, {
        days: 3,
        stores: 10,
        ordersPerDay: 200,
        seed: 2,
      }) as SimulatorConfig,
      registry: { database: 'sqlite' as const, sqliteFile },
      store: Value.Default(storeConfigSchema, {}) as StoreConfig,
      nowMs: Date.UTC(2026, 10, 20, 12),
    };
    const lines: string[] = [];
    const first = await scheduledRun(spec, (l) => lines.push(l));
    expect(first).toMatchObject({ version: 'v1', promoted: true });
    for (let tick = 1; tick <= 3; tick++) {
      const next = await scheduledRun({ ...spec, nowMs: spec.nowMs + tick * 300_000 }, (l) => lines.push(l));
      expect(next).toMatchObject({ skipped: true, promoted: false, version: 'v1' });
      expect(next.decision).toMatch(
        /^skipped: 0 delivered orders in the lake's window, fewer than the 500 a run needs \(pipeline\.minLakeOrders\); champion v1 keeps serving$/,
      );
    }
    const registry = openModelRegistry(spec.registry);
    expect((await registry.list()).map((r) => r.version)).toEqual(['v1']);
    expect(await registry.audit()).toMatchObject([{ action: 'promote', version: 'v1', actor: 'schedule' }]);
    await registry.close();
  }, 120_000);
});
