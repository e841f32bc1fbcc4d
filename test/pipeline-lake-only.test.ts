import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTrainCommand } from '../src/cli/train-command.js';
import { geoConfigSchema, type GeoConfig } from '../src/geo/index.js';
import {
  historyToEvents,
  lakeDirOf,
  LakeTooSmallError,
  pipelineConfigSchema,
  resolvePipelineSource,
  scheduledRun,
  writeEventsToLake,
  type PipelineConfig,
  type ScheduledJobSpec,
} from '../src/pipeline/index.js';
import { openModelRegistry } from '../src/registry/index.js';
import { generateHistory, simulatorConfigSchema, type SimulatorConfig } from '../src/simulator/index.js';
import { openStoreCatalog, storeConfigSchema, type StoreConfig } from '../src/store/index.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 6, 12);
const MIN = 500;

let dir: string;
let lines: string[];
let errors: string[];
const out = () => ({ log: (l: string) => lines.push(l), error: (l: string) => errors.push(l) });
const sqliteFile = (): string => path.join(dir, 'etaserve.db');

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lake-only-'));
  lines = [];
  errors = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A city's events written through the lake writer, as compaction of the log would; returns its stores. */
async function writeLake(ordersPerDay: number, days = 4) {
  const history = generateHistory({ seed: 9, days, stores: 20, ordersPerDay, startMs: NOW - days * DAY });
  await writeEventsToLake(lakeDirOf(dir), historyToEvents(history));
  return history.stores;
}

async function registryState() {
  const registry = openModelRegistry({ database: 'sqlite', sqliteFile: sqliteFile() });
  try {
    return {
      versions: (await registry.list()).map((r) => r.version),
      champion: await registry.resolve('champion'),
      audit: await registry.audit(),
      source: (await registry.list())[0]?.source,
    };
  } finally {
    await registry.close();
  }
}

const pipeline = (o: Partial<PipelineConfig> = {}): Partial<PipelineConfig> => ({
  trees: 10,
  windowDays: 4,
  minLakeOrders: MIN,
  ...o,
});

describe('pipeline.source', () => {
  it('auto is the simulated demo only on a loopback host', () => {
    expect(resolvePipelineSource('auto', true)).toBe('simulated');
    expect(resolvePipelineSource('auto', false)).toBe('lake');
    expect(resolvePipelineSource('lake', true)).toBe('lake');
    expect(resolvePipelineSource('simulated', false)).toBe('simulated');
  });
});

describe('etaserve train on the lake', () => {
  it('fails with the counts and registers nothing when the lake holds too few delivered orders', async () => {
    const stores = await writeLake(20);
    for (const [args, source] of [
      [['--lake'], 'auto'],
      // The configured source alone, with no flag: what a production process resolves `auto` to.
      [[], 'lake'],
    ] as const) {
      errors = [];
      const rc = await runTrainCommand([...args, '--trees', '10'], {
        ...out(),
        dataDir: dir,
        pipeline: pipeline({ source }),
        loadStores: async () => stores,
        now: () => NOW,
      });
      expect(rc).toBe(1);
      expect(errors.join('\n')).toMatch(
        /^lake has \d+ delivered orders in 2026-12-02\.\.2026-12-06, needs 500 \(pipeline\.minLakeOrders\)/,
      );
      const delivered = Number(/lake has (\d+)/.exec(errors[0]!)![1]);
      expect(delivered).toBeGreaterThan(0);
      expect(delivered).toBeLessThan(MIN);
    }
    expect(lines.some((l) => /simulat/i.test(l))).toBe(false);
    expect(await registryState()).toMatchObject({ versions: [], champion: undefined, audit: [] });
  });

  it('--lake with an empty lake fails too (0 orders), never simulating', async () => {
    const rc = await runTrainCommand(['--lake'], {
      ...out(),
      dataDir: dir,
      pipeline: pipeline(),
      loadStores: async () => cityStores(),
      now: () => NOW,
    });
    expect(rc).toBe(1);
    expect(errors[0]).toMatch(/^lake has 0 delivered orders in 2026-12-02\.\.2026-12-06, needs 500/);
    expect((await registryState()).versions).toEqual([]);
  });

  it('trains on the lake and, with no champion, the policy makes it champion with an audit entry', async () => {
    const stores = await writeLake(250);
    const rc = await runTrainCommand(['--lake', '--trees', '10'], {
      ...out(),
      dataDir: dir,
      pipeline: pipeline(),
      loadStores: async () => stores,
      now: () => NOW,
    });
    expect(errors).toEqual([]);
    expect(rc).toBe(0);
    expect(lines.find((l) => l.startsWith('promoted'))).toMatch(/yes: promote: there is no champion/);
    const state = await registryState();
    expect(state).toMatchObject({ versions: ['v1'], champion: 'v1' });
    expect(state.source).toMatch(/^parquet:lake:2026-12-02T12:00:00\.000Z\.\.2026-12-06T12:00:00\.000Z/);
    expect(state.audit).toHaveLength(1);
    expect(state.audit[0]).toMatchObject({
      action: 'promote',
      version: 'v1',
      previous: null,
      actor: 'cli',
      forced: false,
    });
    expect(state.audit[0]!.summary).toMatch(/no champion/);
  }, 120_000);
});

describe('the scheduled run with the lake source', () => {
  const spec = (): ScheduledJobSpec => ({
    dataDir: dir,
    pipeline: Value.Default(
      pipelineConfigSchema,
      pipeline({ source: 'lake', schedule: '' }),
    ) as PipelineConfig,
    geo: Value.Default(geoConfigSchema, {}) as GeoConfig,
    simulator: Value.Default(simulatorConfigSchema, {
      days: 4,
      stores: 20,
      ordersPerDay: 250,
    }) as SimulatorConfig,
    registry: { database: 'sqlite', sqliteFile: sqliteFile() },
    store: Value.Default(storeConfigSchema, {}) as StoreConfig,
    nowMs: NOW,
  });
  const seedCatalog = async (stores: Awaited<ReturnType<typeof writeLake>>): Promise<void> => {
    const catalog = await openStoreCatalog(spec().store, { dataDir: dir });
    await catalog.upsertMany(stores);
    await catalog.close();
  };

  it('fails the run with the counts when the lake is short, even with no champion, and registers nothing', async () => {
    await seedCatalog(await writeLake(20));
    const logged: string[] = [];
    const run = scheduledRun(spec(), (l) => logged.push(l));
    await expect(run).rejects.toBeInstanceOf(LakeTooSmallError);
    await expect(run).rejects.toThrow(
      /^lake has \d+ delivered orders in 2026-12-02\.\.2026-12-06, needs 500/,
    );
    expect(logged.some((l) => /simulat/i.test(l))).toBe(false);
    expect(await registryState()).toMatchObject({ versions: [], audit: [] });
  });

  it('trains the first model on the lake and promotes it through the policy, audited as the schedule', async () => {
    await seedCatalog(await writeLake(250));
    const summary = await scheduledRun(spec(), () => undefined);
    expect(summary).toMatchObject({ version: 'v1', promoted: true });
    expect(summary.source).toMatch(/^parquet:lake/);
    const state = await registryState();
    expect(state.champion).toBe('v1');
    expect(state.audit).toEqual([
      expect.objectContaining({ action: 'promote', version: 'v1', previous: null, actor: 'schedule' }),
    ]);
  }, 120_000);
});

/** A catalog's stores, with nothing written to the lake. */
const cityStores = () =>
  generateHistory({ seed: 9, days: 1, stores: 20, ordersPerDay: 1, startMs: NOW - DAY }).stores;
