import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeProcess, type ComposedProcess } from '../src/app/compose.js';
import { loadAppConfig, type AppConfig } from '../src/app/config.js';
import {
  openCatalogFromConfig,
  pipelineSourceOf,
  prepareFirstRun,
  registryDatabaseOf,
  registryFromConfig,
} from '../src/app/first-run.js';
import { historyToEvents, lakeDirOf, scheduledRun, writeEventsToLake } from '../src/pipeline/index.js';
import { createLogger } from '../src/platform/index.js';
import { generateHistory } from '../src/simulator/index.js';
import { DEMO_KEY } from './support/processes.js';
import { parisEvening } from './support/times.js';

const DAY = 86_400_000;

let dir: string;
let config: AppConfig;
let proc: ComposedProcess;
const firstRunLog: string[] = [];
// Whole days up to today, as the simulator lays them out; the 4-day window up to now holds three and more of them.
const history = generateHistory({
  seed: 9,
  days: 4,
  stores: 20,
  ordersPerDay: 250,
  startMs: Math.floor(Date.now() / DAY) * DAY - 4 * DAY,
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'first-run-prod-'));
  config = loadAppConfig({
    env: {
      ETASERVE_DATA_DIR: dir,
      // Production's training source, on loopback so the test binds nothing reachable (the image's 0.0.0.0 makes
      // `auto` the lake; checked below without binding it).
      ETASERVE_PIPELINE_SOURCE: 'lake',
      ETASERVE_PIPELINE_SCHEDULE: '',
      ETASERVE_PIPELINE_TREES: '10',
      ETASERVE_PIPELINE_WINDOW_DAYS: '4',
      ETASERVE_PIPELINE_MIN_LAKE_ORDERS: '500',
      ETASERVE_PREDICTOR_ALIAS_POLL_MS: '200',
      ETASERVE_DEMO_API_KEY: DEMO_KEY,
      ETASERVE_GATEWAY_PORT: '0',
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
      ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
    },
  });
  // Production stores come from the operator (`etaserve stores import`), not from a simulated city.
  const catalog = await openCatalogFromConfig(config);
  await catalog.upsertMany(history.stores);
  await catalog.close();
  await prepareFirstRun(config, { trainModel: true, seedStores: true }, { log: (l) => firstRunLog.push(l) });
  proc = await composeProcess(config, ['all'], createLogger({ level: 'silent' }));
  await proc.manager.startAll();
}, 60_000);

afterAll(async () => {
  await proc?.manager.stopAll();
  await rm(dir, { recursive: true, force: true });
});

const eta = () =>
  proc.app.inject({
    method: 'POST',
    url: '/v1/eta',
    headers: { authorization: `Bearer ${DEMO_KEY}` },
    payload: {
      store_id: history.stores[0]!.storeId,
      destination: history.stores[0]!.location,
      ordered_at: parisEvening(),
    },
  });

describe('a fresh production deployment (lake source, no champion)', () => {
  it('a non-loopback host means the lake unless configured otherwise', () => {
    expect(pipelineSourceOf(loadAppConfig({ env: { ETASERVE_HOST: '0.0.0.0' } }))).toBe('lake');
    expect(pipelineSourceOf(loadAppConfig({ env: { ETASERVE_HOST: '127.0.0.1' } }))).toBe('simulated');
    expect(pipelineSourceOf(config)).toBe('lake');
  });

  it('starts without simulating or training anything, and without seeding stores', async () => {
    expect(firstRunLog.join('\n')).toMatch(
      /no champion model yet and pipeline\.source is lake: nothing is simulated/,
    );
    expect(firstRunLog.some((l) => /simulating|trained and promoted|seeded/.test(l))).toBe(false);
    const registry = registryFromConfig(config);
    expect(await registry.list()).toEqual([]);
    await registry.close();
    expect(await readdir(dir)).not.toContain('reports');
    const catalog = await openCatalogFromConfig(config);
    expect(await catalog.count()).toBe(history.stores.length);
    await catalog.close();
  });

  it('answers /v1/eta with the degraded fallback ETA and /readyz 200 degraded, with the reason', async () => {
    const res = await eta();
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ degraded: true, model_version: 'fallback' });
    const ready = await proc.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.body).toMatch(/degraded/);
    expect(ready.body).toMatch(/no champion model yet: serving fallback ETAs/);
  });

  it('serves the first model trained on the lake once the policy promotes it, and is ready', async () => {
    await writeEventsToLake(lakeDirOf(dir), historyToEvents(history));
    const summary = await scheduledRun(
      {
        dataDir: dir,
        pipeline: { ...config.pipeline, source: pipelineSourceOf(config) },
        geo: config.geo,
        simulator: config.simulator,
        registry: registryDatabaseOf(config),
        store: config.store,
        nowMs: Date.now(),
      },
      () => undefined,
    );
    expect(summary).toMatchObject({ version: 'v1', promoted: true });
    expect(summary.source).toMatch(/^parquet:lake/);
    const registry = registryFromConfig(config);
    expect(await registry.audit()).toEqual([
      expect.objectContaining({ action: 'promote', version: 'v1', previous: null, actor: 'schedule' }),
    ]);
    await registry.close();
    // The predictor's registry poll swaps the champion in without a restart.
    let ready = await proc.app.inject({ method: 'GET', url: '/readyz' });
    for (let i = 0; i < 100 && /no champion/.test(ready.body); i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await proc.app.inject({ method: 'GET', url: '/readyz' });
    }
    expect(ready.statusCode).toBe(200);
    expect(ready.body).not.toMatch(/no champion/);
    const res = await eta();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ model_version: 'v1' });
  }, 120_000);
});
