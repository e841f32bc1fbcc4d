import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  importFileRegistry,
  InMemoryModelRegistry,
  openModelRegistry,
  promote,
  rollback,
  setChallenger,
  type ModelRegistry,
} from '../src/registry/index.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

const run = promisify(execFile);
let dir: string;
let postgres: TestPostgres | undefined;
let pgSchema = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'registry-'));
  postgres = await startPostgres();
}, 120_000);
afterAll(async () => {
  await postgres?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh PostgreSQL database per registry, so the contract starts from empty each time. */
async function freshPostgres(): Promise<string> {
  const pg = (await import('pg')).default;
  const name = `reg_${++pgSchema}`;
  const admin = new pg.Client({ connectionString: postgres!.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return postgres!.url.replace(/\/[^/]+$/, `/${name}`);
}

const contract = (name: string, make: () => Promise<ModelRegistry>, skip = (): boolean => false): void => {
  describe(`${name}: the ModelRegistry contract`, () => {
    it('assigns v1, v2 … and returns artifacts with their golden set and drift profile', async (t) => {
      if (skip()) return t.skip();
      const reg = await make();
      const golden = { rows: [[1, 2]], predictions: [[3]] };
      const profile = { rows: 10, features: [{ name: 'f', edges: [1], shares: [0.5, 0.5, 0] }] };
      const a = await reg.register(
        { trees: [1] },
        { source: 'simulated', metrics: { mae_s: 300 }, golden, profile },
      );
      const b = await reg.register({ trees: [2] }, { source: 'xgboost-import' });
      expect([a.version, b.version]).toEqual(['v1', 'v2']);
      expect(await reg.loadArtifact('v1')).toEqual({ trees: [1], golden });
      expect(await reg.loadArtifact('v2')).toEqual({ trees: [2] });
      expect(await reg.loadProfile('v1')).toEqual(profile);
      expect((await reg.get('v1'))?.metrics).toEqual({ mae_s: 300 });
      expect((await reg.list()).map((r) => r.version)).toEqual(['v2', 'v1']);
      expect(await reg.get('v9')).toBeUndefined();
      await expect(reg.loadArtifact('v9')).rejects.toMatchObject({ code: 'model_not_found' });
      await reg.close();
    });

    it('promotes, sets a challenger and rolls back through the alias history', async (t) => {
      if (skip()) return t.skip();
      const reg = await make();
      for (let i = 1; i <= 3; i++) await reg.register({ n: i }, { source: 's' });
      const r0 = await reg.aliasesRevision();
      await promote(reg, 'v1');
      expect(await reg.aliasesRevision()).not.toBe(r0);
      await setChallenger(reg, 'v2');
      expect((await reg.get('v2'))?.aliases).toEqual(['challenger']);
      await promote(reg, 'v2');
      expect(await reg.resolve('challenger')).toBeUndefined();
      await promote(reg, 'v3');
      expect(await rollback(reg)).toEqual({ from: 'v3', to: 'v2' });
      expect(await rollback(reg)).toEqual({ from: 'v2', to: 'v1' });
      await expect(rollback(reg)).rejects.toMatchObject({ code: 'conflict' });
      expect(await reg.resolve('champion')).toBe('v1');
      const history = await reg.aliasHistory('champion');
      expect(history[0]).toMatchObject({ version: 'v1', previous: 'v2', reason: 'rollback from v2' });
      await expect(setChallenger(reg, 'v1')).rejects.toMatchObject({ code: 'conflict' });
      await expect(promote(reg, 'v7')).rejects.toMatchObject({ code: 'model_not_found' });
      await reg.close();
    });
  });
};

let n = 0;
contract('InMemoryModelRegistry', async () => new InMemoryModelRegistry());
contract('SQLite registry', async () =>
  openModelRegistry({ database: 'sqlite', sqliteFile: path.join(dir, `r${++n}.db`) }),
);
contract(
  'PostgreSQL registry',
  async () => openModelRegistry({ database: 'postgres', postgresUrl: await freshPostgres() }),
  () => postgres === undefined,
);

describe('one registry shared by processes', () => {
  it('gives every registration of two racing processes its own version, on SQLite and PostgreSQL', async () => {
    const moduleUrl = pathToFileURL(path.resolve('src/registry/index.ts')).href;
    const script = path.join(dir, 'register.mjs');
    await writeFile(
      script,
      `import { openModelRegistry } from ${JSON.stringify(moduleUrl)};
const where = JSON.parse(process.argv[2]);
const reg = openModelRegistry(where);
const records = [];
for (let i = 0; i < 5; i++) records.push(await reg.register({ pid: process.pid, i }, { source: 'race' }));
console.log(JSON.stringify(records.map((r) => r.version)));
await reg.close();`,
    );
    const targets: Array<Parameters<typeof openModelRegistry>[0]> = [
      { database: 'sqlite', sqliteFile: path.join(dir, 'race.db') },
    ];
    if (postgres) targets.push({ database: 'postgres', postgresUrl: await freshPostgres() });
    for (const where of targets) {
      const outputs = await Promise.all(
        [0, 1].map(() => run(process.execPath, ['--import', 'tsx', script, JSON.stringify(where)])),
      );
      const versions = outputs.flatMap((o) => JSON.parse(o.stdout) as string[]);
      expect(new Set(versions).size).toBe(10);
      const reader = openModelRegistry(where);
      expect((await reader.list()).length).toBe(10);
      const artifacts = await Promise.all(versions.map((v) => reader.loadArtifact(v)));
      expect(new Set(artifacts.map((a) => JSON.stringify(a))).size).toBe(10);
      await reader.close();
    }
  }, 60_000);
});

describe('an upgrade from the file registry', () => {
  it('imports the versions and aliases once into an empty database', async () => {
    const legacy = path.join(dir, 'legacy');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(legacy, 'models'), { recursive: true });
    await mkdir(path.join(legacy, 'meta'), { recursive: true });
    for (const n of [1, 2]) {
      await writeFile(path.join(legacy, 'models', `v${n}.json`), JSON.stringify({ n }));
      await writeFile(
        path.join(legacy, 'meta', `v${n}.json`),
        JSON.stringify({
          version: `v${n}`,
          createdAt: '2026-01-01T00:00:00Z',
          source: `old-${n}`,
          metrics: { mae_s: n },
        }),
      );
    }
    await writeFile(path.join(legacy, 'aliases.json'), JSON.stringify({ champion: 'v2' }));
    const reg = openModelRegistry({ database: 'sqlite', sqliteFile: path.join(dir, 'upgrade.db') });
    expect(await importFileRegistry(legacy, reg)).toBe(2);
    expect(await importFileRegistry(legacy, reg)).toBe(0);
    expect(await reg.resolve('champion')).toBe('v2');
    expect(await reg.loadArtifact('v2')).toEqual({ n: 2 });
    expect((await reg.get('v1'))?.source).toBe('old-1');
    await reg.close();
  });
});
