import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runModelsCommand } from '../src/cli/models-command.js';
import { adminModelRoutes } from '../src/gateway/admin-models-routes.js';
import {
  applyRetention,
  csvData,
  pipelineConfigSchema,
  readMapping,
  runTraining,
  simulatedData,
  type PipelineConfig,
  type TrainingData,
} from '../src/pipeline/index.js';
import { createHttpServer, createLogger, createMetrics, type HttpServer } from '../src/platform/index.js';
import { openModelRegistry, type SqlModelRegistry } from '../src/registry/index.js';

let dir: string;
let registry: SqlModelRegistry;
let app: HttpServer;
const pipeline = Value.Default(pipelineConfigSchema, { trees: 15 }) as PipelineConfig;
const paris = (): TrainingData =>
  simulatedData({ seed: 3, days: 3, stores: 15, ordersPerDay: 250, nowMs: Date.UTC(2026, 10, 20) });
const quiet = { log: () => undefined };

async function train(data: TrainingData, trees: number): Promise<string> {
  const run = await runTraining(data, {
    registry,
    dataDir: dir,
    pipeline: { ...pipeline, trees },
    ...quiet,
    promotion: 'none',
  });
  return run.record.version;
}

function cliOut(): {
  log: (l: string) => void;
  error: (l: string) => void;
  lines: string[];
  errors: string[];
} {
  const lines: string[] = [];
  const errors: string[] = [];
  return { log: (l) => lines.push(l), error: (l) => errors.push(l), lines, errors };
}

const promote = (version: string, body?: unknown) =>
  app.inject({
    method: 'POST',
    url: `/v1/admin/models/${version}/promote`,
    ...(body === undefined ? {} : { payload: body as object }),
  });

let worse: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'promotion-'));
  registry = openModelRegistry({ database: 'sqlite', sqliteFile: path.join(dir, 'etaserve.db') });
  // The first model becomes the champion (no champion to compare with).
  const first = await runTraining(paris(), { registry, dataDir: dir, pipeline, ...quiet });
  expect(first.record.aliases).toEqual(['champion']);
  // Two boosting rounds on the same city: a clearly worse model.
  worse = await train(paris(), 1);
  app = createHttpServer({
    name: 'test',
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ target: 'gateway' }),
    readiness: () => ({ ready: true }),
    isDraining: () => false,
  } as never);
  await app.register(
    adminModelRoutes({
      registry,
      authorizeAdmin: async (req: { principal?: unknown }) => {
        req.principal = { keyId: 'k-admin', scopes: ['admin'] };
      },
    } as never),
  );
  await app.ready();
}, 120_000);
afterAll(async () => {
  await app?.close();
  await registry?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('promotion with guard rails', () => {
  it('refuses a worse challenger through the API with a plain 409, and audits the refusal', async () => {
    const res = await promote(worse);
    expect(res.statusCode).toBe(409);
    const { error } = res.json();
    expect(error.code).toBe('conflict');
    expect(error.message).toMatch(
      new RegExp(
        `^challenger ${worse} MAE \\d+\\.\\d min vs champion v1 \\d+\\.\\d min, \\d+% higher: refused \\(send force with a reason to override\\)$`,
      ),
    );
    expect(error.message).not.toMatch(/better|-\d/);
    expect(await registry.resolve('champion')).toBe('v1');
    const [entry] = (await app.inject({ method: 'GET', url: '/v1/admin/audit?limit=5' })).json().entries;
    expect(entry).toMatchObject({
      action: 'promote_refused',
      version: worse,
      previous: 'v1',
      actor: 'k-admin',
    });
  });

  it('refuses it through the CLI function too, with the CLI’s way to override', async () => {
    const out = cliOut();
    expect(await runModelsCommand(['promote', worse], out, () => reopen())).toBe(1);
    expect(out.errors.join('\n')).toMatch(/higher: refused \(use --force --reason TEXT to override\)/);
    const missing = cliOut();
    expect(await runModelsCommand(['promote', worse, '--force'], missing, () => reopen())).toBe(1);
    expect(missing.errors.join('\n')).toMatch(/needs a reason/);
  });

  it('promotes when forced with a reason, and the audit log says forced, why and the comparison', async () => {
    expect((await promote(worse, { force: true })).statusCode).toBe(400);
    const res = await promote(worse, { force: true, reason: 'incident 42: testing the fallback' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ previous: 'v1', forced: true });
    const { entries } = (await app.inject({ method: 'GET', url: '/v1/admin/audit' })).json();
    expect(entries[0]).toMatchObject({
      action: 'promote',
      version: worse,
      previous: 'v1',
      actor: 'k-admin',
      forced: true,
      reason: 'incident 42: testing the fallback',
    });
    expect(entries[0].summary).toMatch(/MAE .* min vs champion v1 .* min, \d+% higher/);
    expect(entries[0].summary).toMatch(/same \d+ recent hold-out orders/);
    // Back, through the CLI: audited with the CLI as actor.
    const out = cliOut();
    expect(await runModelsCommand(['rollback'], out, () => reopen())).toBe(0);
    expect(out.lines[0]).toBe(`champion rolled back: ${worse} -> v1`);
    const list = cliOut();
    expect(await runModelsCommand(['audit'], list, () => reopen())).toBe(0);
    const lines = list.lines.join('\n').split('\n');
    expect(lines[0]).toMatch(/^AT\s+ACTION\s+VERSION\s+PREVIOUS\s+ACTOR\s+FORCED\s+REASON\s+SUMMARY$/);
    expect(lines[1]).toMatch(new RegExp(`rollback\\s+v1\\s+${worse}\\s+cli\\s+no`));
  });

  it('answers a rollback with nothing to roll back with a plain 409 and no audit entry', async () => {
    const other = openModelRegistry({ database: 'sqlite', sqliteFile: path.join(dir, 'empty.db') });
    const bare = createHttpServer({
      name: 'test',
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ target: 'gateway' }),
      readiness: () => ({ ready: true }),
      isDraining: () => false,
    } as never);
    await bare.register(
      adminModelRoutes({ registry: other, authorizeAdmin: async () => undefined } as never),
    );
    const res = await bare.inject({ method: 'POST', url: '/v1/admin/models/rollback' });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toBe('there is no earlier champion to roll back to');
    expect(await other.audit()).toEqual([]);
    await bare.close();
    await other.close();
  });

  it('refuses a model trained from a CSV of another city, in training and when promoted by hand', async () => {
    // Paris orders moved to Bangalore and read through the India mapping: same features, another domain.
    const history = paris().history;
    const byId = new Map(history.stores.map((s) => [s.storeId, s]));
    const shift = (lat: number, lng: number): [string, string] => [
      (lat - 48.86 + 12.97).toFixed(6),
      (lng - 2.35 + 77.59).toFixed(6),
    ];
    const rows = [...history.orders]
      .filter((o) => o.delivered_at_ms !== null)
      .map((o) => {
        const s = byId.get(o.store_id)!;
        const t = new Date(o.created_at_ms).toISOString();
        const minutes = ((o.delivered_at_ms! - o.created_at_ms) / 60_000).toFixed(2);
        const picked = new Date(o.picked_up_at_ms ?? o.created_at_ms).toISOString();
        return [
          o.order_id,
          ...shift(s.location.lat, s.location.lng),
          'Meal',
          ...shift(o.destination.lat, o.destination.lng),
          t.slice(0, 10),
          t.slice(11, 19),
          picked.slice(11, 19),
          minutes,
        ].join(',');
      });
    const header =
      'ID,Restaurant_latitude,Restaurant_longitude,Type_of_order,Delivery_location_latitude,Delivery_location_longitude,Order_Date,Time_Orderd,Time_Order_picked,Time_taken(min)';
    const file = path.join(dir, 'bangalore.csv');
    await writeFile(file, [header, ...rows].join('\n'));
    const data = await csvData(file, await readMapping('examples/mappings/food-delivery-india.yaml'));
    expect(data.history.orders.length).toBeGreaterThan(100);
    const run = await runTraining(data, { registry, dataDir: dir, pipeline, ...quiet });
    expect(run.promoted).toBe(false);
    expect(run.record.aliases).toEqual([]);
    expect(run.decision.summary).toMatch(
      /trained in another timezone: challenger v\d+ Asia\/Kolkata, champion v1 Europe\/Paris/,
    );
    expect(run.decision.summary).toMatch(/trained in another area/);
    const res = await promote(run.record.version);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(
      /another timezone.*refused \(send force with a reason to override\)$/,
    );
    // Nor may it answer live requests as the challenger.
    const challenger = await app.inject({
      method: 'POST',
      url: `/v1/admin/models/${run.record.version}/challenger`,
    });
    expect(challenger.statusCode).toBe(409);
    expect(challenger.json().error.message).toMatch(/another area.*refused as challenger/);
  }, 60_000);

  it('keeps the champion, the challenger, the previous champions and the newest N others', async () => {
    const reg = openModelRegistry({ database: 'sqlite', sqliteFile: path.join(dir, 'retention.db') });
    for (let i = 0; i < 8; i++) await reg.register({ n: i }, { source: `test:${i}` });
    const { promote: move, setChallenger } = await import('../src/registry/index.js');
    await move(reg, 'v1');
    await move(reg, 'v2');
    await move(reg, 'v3');
    await setChallenger(reg, 'v4');
    const gone = await applyRetention(reg, { keepVersions: 2, keepPreviousChampions: 1 }, 'test');
    // Champion v3, challenger v4, previous champion v2, newest others v8 and v7.
    expect(gone.sort()).toEqual(['v1', 'v5', 'v6']);
    expect((await reg.list()).map((r) => r.version)).toEqual(['v8', 'v7', 'v4', 'v3', 'v2']);
    await expect(reg.loadArtifact('v1')).rejects.toMatchObject({ code: 'model_not_found' });
    expect((await reg.audit(1))[0]).toMatchObject({ action: 'retention', actor: 'test' });
    await reg.close();
  });
});

function reopen(): SqlModelRegistry {
  return openModelRegistry({ database: 'sqlite', sqliteFile: path.join(dir, 'etaserve.db') });
}
