import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  guardedPromote,
  auditedRollback,
  policyConfigSchema,
  type PolicyConfig,
} from '../src/pipeline/index.js';
import { runMigrations, sqliteRunner } from '../src/platform/index.js';
import {
  InMemoryModelRegistry,
  openModelRegistry,
  promote,
  REGISTRY_MIGRATIONS,
  setChallenger,
  type ModelRegistry,
} from '../src/registry/index.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const policy = Value.Default(policyConfigSchema, {}) as PolicyConfig;
let dir: string;
let postgres: TestPostgres | undefined;
let databases = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'audit-'));
  postgres = await startPostgres();
}, 120_000);
afterAll(async () => {
  await postgres?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function freshPostgres(): Promise<string> {
  const pg = (await import('pg')).default;
  const name = `audit_${++databases}`;
  const admin = new pg.Client({ connectionString: postgres!.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return postgres!.url.replace(/\/[^/]+$/, `/${name}`);
}

const contract = (name: string, make: () => Promise<ModelRegistry>, skip = (): boolean => false): void => {
  describe(`${name}: the audit log and retention's deletes`, () => {
    it('records refusals, forced promotions and rollbacks, newest first, and round-trips every field', async (t) => {
      if (skip()) return t.skip();
      const reg = await make();
      await reg.register({ trees: [] }, { source: 'test:a', metrics: { mae_s: 280, coverage_p10_p90: 0.8 } });
      await reg.register({ trees: [] }, { source: 'test:b', metrics: { mae_s: 530, coverage_p10_p90: 0.8 } });
      await promote(reg, 'v1');
      // Artifacts that do not load: compared on the metrics each recorded at registration, and said so.
      await expect(guardedPromote(reg, 'v2', { policy, actor: 'k-1' })).rejects.toMatchObject({
        code: 'conflict',
        message:
          'challenger v2 MAE 8.8 min vs champion v1 4.7 min, 89% higher: refused (send force with a reason to override)',
      });
      const forced = await guardedPromote(reg, 'v2', {
        policy,
        actor: 'k-1',
        force: true,
        reason: 'rehearsing a rollback',
      });
      expect(forced).toMatchObject({ forced: true, previous: 'v1' });
      expect(await auditedRollback(reg, 'cli')).toEqual({ from: 'v2', to: 'v1' });
      await expect(auditedRollback(reg, 'cli')).rejects.toMatchObject({ code: 'conflict' });
      const entries = await reg.audit(10);
      expect(entries.map((e) => [e.action, e.version, e.previous, e.actor, e.forced, e.reason])).toEqual([
        ['rollback', 'v1', 'v2', 'cli', false, null],
        ['promote', 'v2', 'v1', 'k-1', true, 'rehearsing a rollback'],
        ['promote_refused', 'v2', 'v1', 'k-1', false, null],
      ]);
      expect(entries[1]!.summary).toMatch(/^forced over: keep the champion: challenger v2 MAE 8\.8 min/);
      expect(entries[1]!.summary).toMatch(/not the same orders/);
      expect(entries[1]!.summary).toMatch(/records no training domain/);
      expect(Date.parse(entries[0]!.at)).toBeGreaterThan(0);
      expect(await reg.audit(1)).toHaveLength(1);
      await reg.close();
    });

    it('deletes a version with its artifact, never one an alias points at', async (t) => {
      if (skip()) return t.skip();
      const reg = await make();
      for (let i = 0; i < 4; i++) await reg.register({ n: i }, { source: 'test' });
      await promote(reg, 'v1');
      await setChallenger(reg, 'v2');
      await expect(reg.remove('v1')).rejects.toMatchObject({ code: 'conflict' });
      await expect(reg.remove('v2')).rejects.toMatchObject({ code: 'conflict' });
      // The newest stays, so that the next registration never reuses a deleted version's name.
      await expect(reg.remove('v4')).rejects.toMatchObject({ code: 'conflict' });
      await reg.remove('v3');
      expect((await reg.list()).map((r) => r.version)).toEqual(['v4', 'v2', 'v1']);
      await expect(reg.loadArtifact('v3')).rejects.toMatchObject({ code: 'model_not_found' });
      expect((await reg.register({}, { source: 'test' })).version).toBe('v5');
      await reg.close();
    });
  });
};

contract('memory', async () => new InMemoryModelRegistry());
contract('SQLite', async () =>
  openModelRegistry({ database: 'sqlite', sqliteFile: path.join(dir, `r${++databases}.db`) }),
);
contract(
  'PostgreSQL',
  async () => openModelRegistry({ database: 'postgres', postgresUrl: await freshPostgres() }),
  () => postgres === undefined,
);

describe('a registry from before the audit log', () => {
  it('migrates in place; its old versions have no domain and are compared leniently, saying so', async () => {
    const file = path.join(dir, 'old.db');
    const db = new Database(file);
    await runMigrations(sqliteRunner(db), 'registry', REGISTRY_MIGRATIONS.slice(0, 1));
    db.prepare(
      `INSERT INTO model_versions (version_number, version, created_at, source, metrics, artifact) VALUES (1, 'v1', '2026-01-01T00:00:00Z', 'old', '{"mae_s":300}', '{}')`,
    ).run();
    db.close();
    const reg = openModelRegistry({ database: 'sqlite', sqliteFile: file });
    expect((await reg.get('v1'))?.domain).toBeUndefined();
    await promote(reg, 'v1');
    await reg.register({}, { source: 'new', metrics: { mae_s: 290 } });
    const outcome = await guardedPromote(reg, 'v2', { policy, actor: 'cli' });
    expect(outcome.forced).toBe(false);
    expect(outcome.decision.checks[0]!.detail).toMatch(
      /v2 records no training domain.*v1 records no training domain/,
    );
    expect((await reg.audit())[0]).toMatchObject({ action: 'promote', version: 'v2', previous: 'v1' });
    await reg.close();
  });
});
