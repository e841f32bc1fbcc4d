import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthetic } from '../../test/fixtures/model/synthetic.js';
import { FEATURE_NAMES } from '../features/index.js';
import { loadModel, train, type Model, type ModelArtifact } from '../model/index.js';
import { createLogger, createMetrics, type Metrics } from '../platform/index.js';
import {
  openModelRegistry,
  type GoldenSet,
  type RegistryDatabase,
  type SqlModelRegistry,
} from '../registry/index.js';
import { ModelRuntime } from './model-runtime.js';

let dir: string;
let where: RegistryDatabase;
let registry: SqlModelRegistry;
let artifact: ModelArtifact;
let golden: GoldenSet;
const runtimes: ModelRuntime[] = [];

function load(json: unknown): Model {
  const loaded = loadModel(json);
  if (!loaded.ok) throw loaded.error;
  return loaded.value;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'model-runtime-'));
  where = { database: 'sqlite', sqliteFile: path.join(dir, 'registry.db') };
  registry = openModelRegistry(where);
  const data = synthetic(2000, 3);
  artifact = await train(data, undefined, { nTrees: 30, maxDepth: 4 });
  const model = load(artifact);
  const rows = [
    [1, 2, 0],
    // A missing feature: stored as null in JSON, seen as NaN by the model.
    [5, Number.NaN, 3],
    [9, 4, 1],
  ];
  const out = new Float64Array(1);
  golden = {
    rows,
    predictions: rows.map((r) => [model.predict(Float64Array.from(r), out)[0]!]),
  };
}, 60_000);

afterAll(async () => {
  for (const r of runtimes) r.stop();
  await registry.close();
  await rm(dir, { recursive: true, force: true });
});

function runtime(
  options: { requireEtaFeatures?: boolean; modelFile?: string; withDatabase?: boolean } = {},
): { runtime: ModelRuntime; logs: Array<Record<string, unknown>>; metrics: Metrics } {
  const logs: Array<Record<string, unknown>> = [];
  const metrics = createMetrics();
  const r = new ModelRuntime({
    registry,
    ...(options.withDatabase === false ? {} : { registryDatabase: where }),
    ...(options.modelFile ? { modelFile: options.modelFile } : {}),
    requireEtaFeatures: options.requireEtaFeatures ?? false,
    warmupRows: 200,
    pollMs: 60_000,
    logger: createLogger({
      level: 'info',
      destination: new Writable({
        write(line: Buffer, _encoding, done) {
          logs.push(JSON.parse(line.toString()) as Record<string, unknown>);
          done();
        },
      }),
    }),
    metrics,
  });
  runtimes.push(r);
  return { runtime: r, logs, metrics };
}

const predict = (r: ModelRuntime, row: number[]): number =>
  r.active!.model.predict(Float64Array.from(row), new Float64Array(1))[0]!;

async function metricValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const json = await metrics.registry.getSingleMetric(name)!.get();
  const match = json.values.find((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  );
  return match?.value ?? 0;
}

describe('ModelRuntime with the loader thread', () => {
  it('serves the champion read, validated and compiled off the event loop, with the same answers and explanations', async () => {
    const v1 = await registry.register(artifact, { source: 'test', golden });
    await registry.setAlias('champion', v1.version);
    const { runtime: r, metrics } = runtime();
    await r.start();
    expect(r.active?.version).toBe(v1.version);
    const reference = load(artifact);
    const row = [3.5, 1.25, 2];
    expect(predict(r, row)).toBe(reference.predict(Float64Array.from(row), new Float64Array(1))[0]);
    // The artifact behind explanations is parsed on first use, and gives the same TreeSHAP values.
    expect([...r.active!.model.contributions(Float64Array.from(row), 0)]).toEqual([
      ...reference.contributions(Float64Array.from(row), 0),
    ]);
    expect(r.active!.model.artifact.trees.length).toBe(artifact.trees.length);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/etaserve_model_load_seconds_count\{thread="loader"\} 1/);
    expect(text).toMatch(/etaserve_model_load_seconds_count\{thread="main"\} 1/);
  });

  it('refuses an artifact whose golden predictions disagree, and the old model keeps serving', async () => {
    const { runtime: r, logs, metrics } = runtime();
    await r.start();
    const serving = r.active!;
    const tampered = structuredClone(golden);
    tampered.predictions[1]![0]! += 60;
    const bad = await registry.register(artifact, { source: 'test:corrupt', golden: tampered });
    await registry.setAlias('champion', bad.version);
    await r.poll();
    expect(r.active).toBe(serving);
    expect(await metricValue(metrics, 'etaserve_model_load_failures_total', { reason: 'invalid' })).toBe(1);
    const refusal = logs.find((l) => l.msg === 'model refused; the current model keeps serving');
    expect(refusal).toMatchObject({ version: bad.version, alias: 'champion' });
    expect(String(refusal!.reason)).toMatch(/^golden prediction 1 output 0: got [\d.]+, expected [\d.]+$/);
    await registry.setAlias('champion', serving.version);
  });

  it('refuses a model whose feature spec is not the ETA feature definition, with the reason', async () => {
    const { runtime: r } = runtime({ requireEtaFeatures: true });
    const outcome = await r.prepare({ kind: 'json', json: artifact }, 'vX');
    expect(outcome).toEqual({
      ok: false,
      reason: `feature spec [a, b, c] is not the ETA feature definition [${FEATURE_NAMES.join(', ')}]`,
    });
    const broken = await r.prepare({ kind: 'json', json: { ...artifact, trees: 'none' } }, 'vY');
    expect(broken).toEqual({ ok: false, reason: 'trees: must be an array' });
  });

  it('loads the challenger beside the champion, and promoting it swaps the loaded model in', async () => {
    const v = await registry.register(artifact, { source: 'test:challenger', golden });
    await registry.setAlias('challenger', v.version);
    const { runtime: r } = runtime({ withDatabase: false });
    await r.start();
    const challenger = r.challenger!;
    expect(challenger.version).toBe(v.version);
    await registry.setAlias('challenger', null);
    await registry.setAlias('champion', v.version);
    await r.poll();
    expect(r.active).toBe(challenger);
    expect(r.challenger).toBeUndefined();
  });

  it('retries a version it could not read instead of refusing it', async () => {
    const { runtime: r } = runtime();
    await expect(r.prepare({ kind: 'registry', where, version: 'v999' }, 'v999')).rejects.toThrow(
      /model v999 not read: no model version v999/,
    );
  });

  it('serves a model file, and refuses to start on a bad one', async () => {
    const good = path.join(dir, 'model.json');
    await writeFile(good, JSON.stringify(artifact));
    const { runtime: r } = runtime({ modelFile: good });
    await r.start();
    expect(r.active?.version).toBe('file');
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ format: 'etaserve-gbdt', formatVersion: 7 }));
    await expect(runtime({ modelFile: bad }).runtime.start()).rejects.toThrow(
      /^model file .*bad\.json refused: formatVersion: /,
    );
  });
});
