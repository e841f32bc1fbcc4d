import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeProcess, type ComposedProcess } from '../src/app/compose.js';
import { runKeysCommand } from '../src/cli/keys-command.js';
import { loadAppConfig } from '../src/app/config.js';
import { KEY_REFRESH_MS } from '../src/gateway/index.js';
import { createLogger } from '../src/platform/index.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

/**
 * Two composed gateway processes, each with its own data directory, on one real PostgreSQL: the keys they share are
 * only those in the database. Calls go through each gateway's own HTTP app (inject).
 */

const NOWHERE = 'http://127.0.0.1:9';
let postgres: TestPostgres | undefined;
let databases = 0;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  postgres = await startPostgres();
}, 120_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await postgres?.stop();
});

async function freshDatabase(): Promise<string> {
  const pg = (await import('pg')).default;
  const name = `keys_${++databases}`;
  const admin = new pg.Client({ connectionString: postgres!.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return postgres!.url.replace(/\/[^/]+$/, `/${name}`);
}

/** A gateway-only process (no demo key: not a demo shape), its predictors, store and geo elsewhere. */
async function gateway(postgresUrl: string): Promise<ComposedProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'etaserve-keys-pg-'));
  const config = loadAppConfig({
    env: {
      ETASERVE_DATA_DIR: dir,
      ETASERVE_INTERNAL_TOKEN: 'keys-test-internal-token-0123456789',
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
      ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
      // Events are not what this test is about: the file log is allowed, and unused.
      ETASERVE_TOPOLOGY_SHARED_DISK: 'true',
      ETASERVE_TOPOLOGY_STORE_URL: NOWHERE,
      ETASERVE_TOPOLOGY_GEO_URL: NOWHERE,
      ETASERVE_TOPOLOGY_PREDICTOR_URLS: NOWHERE,
      ETASERVE_STORE_DATABASE: 'postgres',
      ETASERVE_STORE_POSTGRES_URL: postgresUrl,
    },
  });
  const proc = await composeProcess(config, ['gateway'], createLogger({ level: 'silent' }));
  for (const l of proc.listeners) await l.app.ready();
  cleanups.push(async () => {
    await proc.gateway!.service.stop?.();
    for (const l of proc.listeners) await l.app.close();
    await proc.manager.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
  return proc;
}

const start = (proc: ComposedProcess): Promise<void> =>
  Promise.resolve(proc.gateway!.service.start!(new AbortController().signal));

async function call(
  proc: ComposedProcess,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  key: string,
  payload?: object,
): Promise<{ status: number; body: any }> {
  const res = await proc.listeners[0]!.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}` },
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}

/** Polls `check` until it holds, failing after `boundMs`; returns how long it took. */
async function within(boundMs: number, check: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > boundMs) throw new Error(`not within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('API keys in PostgreSQL, shared by two gateways', () => {
  it('two gateways starting together on an empty database create exactly one first admin key', async (t) => {
    if (!postgres) return t.skip();
    const url = await freshDatabase();
    const [a, b, c] = await Promise.all([gateway(url), gateway(url), gateway(url)]);
    await Promise.all([start(a), start(b), start(c)]);
    const printed = [a, b, c].map((g) => g.gateway!.firstAdminKey).filter((k) => k !== undefined);
    expect(printed).toHaveLength(1);
    const admin = printed[0]!;
    // It works at every gateway, and only one key exists.
    for (const g of [a, b, c]) {
      await within(
        KEY_REFRESH_MS,
        async () => (await call(g, 'GET', '/v1/admin/keys', admin)).status === 200,
      );
      expect((await g.gateway!.keys.list()).map((k) => k.name)).toEqual(['admin (first start)']);
    }
    // A restart finds the key: nothing printed again.
    const d = await gateway(url);
    await start(d);
    expect(d.gateway!.firstAdminKey).toBeUndefined();
  }, 60_000);

  it('a key created through gateway A works at B within the bound; revoked through B, it fails at both', async (t) => {
    if (!postgres) return t.skip();
    const url = await freshDatabase();
    const [a, b] = await Promise.all([gateway(url), gateway(url)]);
    await Promise.all([start(a), start(b)]);
    const admin = (a.gateway!.firstAdminKey ?? b.gateway!.firstAdminKey)!;
    // Both gateways have polled once since the start, so B's index is older than this key.
    await new Promise((r) => setTimeout(r, KEY_REFRESH_MS));
    expect((await call(b, 'GET', '/v1/admin/keys', admin)).status).toBe(200);

    const created = await call(a, 'POST', '/v1/admin/keys', admin, { name: 'ops', scopes: ['admin'] });
    expect(created.status).toBe(201);
    const key: string = created.body.key;
    const id: string = created.body.info.id;
    expect((await call(a, 'GET', '/v1/admin/keys', key)).status).toBe(200);
    await within(KEY_REFRESH_MS, async () => (await call(b, 'GET', '/v1/admin/keys', key)).status === 200);

    // Used at both, so each holds it as verified; the revoke must still reach both within the bound.
    expect((await call(a, 'GET', '/v1/admin/keys', key)).status).toBe(200);
    const revoked = await call(b, 'DELETE', `/v1/admin/keys/${id}`, admin);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
    expect((await call(b, 'GET', '/v1/admin/keys', key)).status).toBe(401);
    await within(KEY_REFRESH_MS, async () => (await call(a, 'GET', '/v1/admin/keys', key)).status === 401);
    // And it stays revoked at both.
    await new Promise((r) => setTimeout(r, KEY_REFRESH_MS));
    for (const g of [a, b]) expect((await call(g, 'GET', '/v1/admin/keys', key)).status).toBe(401);
  }, 60_000);
});

describe('etaserve keys against PostgreSQL', () => {
  it('creates a key a running gateway accepts within the bound, lists it, and revokes it there', async (t) => {
    if (!postgres) return t.skip();
    const url = await freshDatabase();
    const g = await gateway(url);
    await start(g);
    const env = { ETASERVE_STORE_DATABASE: 'postgres', ETASERVE_STORE_POSTGRES_URL: url };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    const cli = async (...args: string[]): Promise<{ code: number; text: string }> => {
      const lines: string[] = [];
      const out = { log: (l: string) => lines.push(l), error: (l: string) => lines.push(l) };
      return { code: await runKeysCommand(args, out), text: lines.join('\n') };
    };
    try {
      const created = await cli('create', '--name', 'cli-made', '--scopes', 'admin');
      expect(created.code).toBe(0);
      const key = /es_[a-z0-9]{8}_\S+/.exec(created.text)![0];
      const id = key.split('_')[1]!;
      await within(KEY_REFRESH_MS, async () => (await call(g, 'GET', '/v1/admin/keys', key)).status === 200);
      const listed = await cli('list', '--json');
      const rows = JSON.parse(listed.text) as Array<{ id: string; kind: string; name: string }>;
      expect(rows.find((r) => r.id === id)).toMatchObject({ kind: 'postgres', name: 'cli-made' });
      expect((await cli('revoke', id)).code).toBe(0);
      await within(KEY_REFRESH_MS, async () => (await call(g, 'GET', '/v1/admin/keys', key)).status === 401);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }, 60_000);
});

describe('PostgreSQL down', () => {
  it('keeps the loaded keys in force at the gateway, degraded, and new keys fail to be created', async (t) => {
    // A server of its own, since this test stops it.
    const own = await startPostgres();
    if (!own) return t.skip();
    let stopped = false;
    try {
      const g = await gateway(own.url);
      await start(g);
      const admin = g.gateway!.firstAdminKey!;
      const made = await call(g, 'POST', '/v1/admin/keys', admin, { name: 'app', scopes: ['predict'] });
      expect(made.status).toBe(201);
      const key: string = made.body.key;
      const before = (await call(g, 'POST', '/v1/eta', key, {})).status;
      expect(before).not.toBe(401);

      await own.stop();
      stopped = true;
      await within(10_000, async () => g.gateway!.keys.health().reason !== undefined);
      const check = await g.gateway!.service.check!();
      expect(check).toMatchObject({ ready: true, degraded: true });
      expect((check as { reason: string }).reason).toMatch(/API keys cannot be read from postgres/);
      // Still authenticated, past several polls: whatever the answer, it is not "unauthorized".
      await new Promise((r) => setTimeout(r, 2 * KEY_REFRESH_MS));
      expect((await call(g, 'POST', '/v1/eta', key, {})).status).toBe(before);
      expect((await call(g, 'POST', '/v1/eta', 'es_00000000_' + 'x'.repeat(32), {})).status).toBe(401);
      // A new key cannot be stored, so none is handed out.
      const refused = await call(g, 'POST', '/v1/admin/keys', admin, { name: 'later', scopes: ['predict'] });
      expect(refused.status).toBe(503);
      expect(refused.body.key).toBeUndefined();
    } finally {
      if (!stopped) await own.stop();
    }
  }, 90_000);
});
