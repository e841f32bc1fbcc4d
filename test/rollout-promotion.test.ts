import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelRegistry, type SqlModelRegistry } from '../src/registry/index.js';
import { ensureTemplate } from './support/template.js';
import { BIN, DEMO_KEY, postJson, startAll, type Platform } from './support/processes.js';
import { parisEvening } from './support/times.js';

const exec = promisify(execFile);
let platform: Platform;
let registry: SqlModelRegistry;

const order = (i: number): Record<string, unknown> => ({
  store_id: 's-0001',
  destination: { lat: 48.86 + i * 1e-4, lng: 2.35 },
  items: 2,
  ordered_at: parisEvening(30),
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, [BIN, 'models', ...args], {
      env: { ...process.env, ETASERVE_DATA_DIR: platform.dataDir, ETASERVE_LOG_LEVEL: 'warn' },
    });
    return { code: 0, ...r };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function admin(method: 'GET' | 'POST', route: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${platform.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${DEMO_KEY}` },
  });
  return { status: res.status, body: await res.json() };
}

/** The model version answering, once the predictor's alias poll has had its chance. */
async function servedVersionBecomes(version: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const { body } = await postJson(`${platform.url}/v1/eta`, order(i));
    if (body.model_version === version) return;
    if (Date.now() > deadline) throw new Error(`still serving ${body.model_version}, not ${version}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${platform.url}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce(
    (s, m) => s + Number(m[1]),
    0,
  );
}

beforeAll(async () => {
  await ensureTemplate();
  platform = await startAll({
    ETASERVE_PREDICTOR_ALIAS_POLL_MS: '200',
    ETASERVE_ROLLOUT_SHADOW_SAMPLE_RATE: '1',
  });
  registry = openModelRegistry({
    database: 'sqlite',
    sqliteFile: path.join(platform.dataDir, 'etaserve.db'),
  });
}, 240_000);
afterAll(async () => {
  await registry?.close();
  await platform?.stop();
});

describe('promotion and rollback on a running platform', () => {
  it('refuses a corrupt artifact promoted through the CLI, and the old model keeps answering', async () => {
    const good = (await registry.loadArtifact('v1')) as {
      golden: { rows: number[][]; predictions: number[][] };
    };
    const tampered = structuredClone(good);
    tampered.golden.predictions[0]![1]! += 60;
    const bad = await registry.register(
      { ...tampered, golden: undefined },
      { source: 'test:corrupt', golden: tampered.golden },
    );
    const promoted = await cli('promote', bad.version);
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toContain(`champion: v1 -> ${bad.version}`);
    const deadline = Date.now() + 20_000;
    while ((await metric('etaserve_model_load_failures_total')) < 1) {
      if (Date.now() > deadline) throw new Error('the predictor never tried the corrupt model');
      await new Promise((r) => setTimeout(r, 200));
    }
    for (let i = 0; i < 5; i++) {
      const { status, body } = await postJson(`${platform.url}/v1/eta`, order(i));
      expect(status).toBe(200);
      expect(body.model_version).toBe('v1');
    }
    const back = await cli('rollback');
    expect(back.stdout).toContain(`champion rolled back: ${bad.version} -> v1`);
    const list = await cli('list');
    expect(list.stdout).toMatch(/^v1\s+champion/m);
  }, 60_000);

  it('promotes, sets a challenger and rolls back through the admin API; predictors follow', async () => {
    const { golden, ...artifact } = (await registry.loadArtifact('v1')) as { golden: never };
    const next = await registry.register(artifact, { source: 'test:copy', golden, metrics: { mae_s: 1 } });
    const unauthenticated = await fetch(`${platform.url}/v1/admin/models`);
    expect(unauthenticated.status).toBe(401);

    const challenger = await admin('POST', `/v1/admin/models/${next.version}/challenger`);
    expect(challenger.body.model.aliases).toEqual(['challenger']);
    // Every request is shadowed (sample rate 1): the challenger scores it off the response path.
    const deadline = Date.now() + 20_000;
    while ((await metric('etaserve_shadow_predictions_total')) < 1) {
      await postJson(`${platform.url}/v1/eta`, order(7));
      if (Date.now() > deadline) throw new Error('no shadow prediction was made');
      await new Promise((r) => setTimeout(r, 200));
    }

    const promoted = await admin('POST', `/v1/admin/models/${next.version}/promote`);
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({
      previous: 'v1',
      model: { version: next.version, aliases: ['champion'] },
    });
    await servedVersionBecomes(next.version);

    const shown = await admin('GET', `/v1/admin/models/${next.version}`);
    expect(
      shown.body.history.map((h: { alias: string; reason: string }) => `${h.alias}:${h.reason}`),
    ).toEqual([
      'challenger:promote (admin API by demo)',
      'champion:promote (admin API by demo)',
      'challenger:challenger',
    ]);

    const rolled = await admin('POST', '/v1/admin/models/rollback');
    expect(rolled.body).toEqual({ from: next.version, to: 'v1' });
    await servedVersionBecomes('v1');
    const listed = await admin('GET', '/v1/admin/models');
    expect(listed.body.models.find((m: { version: string }) => m.version === 'v1').aliases).toEqual([
      'champion',
    ]);
    expect((await admin('POST', '/v1/admin/models/v99/promote')).status).toBe(404);
  }, 60_000);
});
