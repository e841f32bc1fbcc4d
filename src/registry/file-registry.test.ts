import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileModelRegistry } from './file-registry.js';
import { InMemoryModelRegistry } from './memory-registry.js';
import type { ModelRegistry } from './types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'registry-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const contract = (name: string, make: () => ModelRegistry): void => {
  describe(`${name}: the ModelRegistry contract`, () => {
    it('assigns v1, v2 … and returns artifacts as registered', async () => {
      const reg = make();
      const a = await reg.register({ trees: [1] }, { source: 'simulated', metrics: { mae_s: 300 } });
      const b = await reg.register({ trees: [2] }, { source: 'xgboost-import' });
      expect([a.version, b.version]).toEqual(['v1', 'v2']);
      expect(await reg.loadArtifact('v1')).toEqual({ trees: [1] });
      expect((await reg.get('v1'))?.metrics).toEqual({ mae_s: 300 });
      expect((await reg.list()).map((r) => r.version)).toEqual(['v2', 'v1']);
      expect(await reg.get('v9')).toBeUndefined();
      await expect(reg.loadArtifact('v9')).rejects.toMatchObject({ code: 'model_not_found' });
    });

    it('moves aliases and changes the revision when they move', async () => {
      const reg = make();
      await reg.register({ n: 1 }, { source: 's' });
      await reg.register({ n: 2 }, { source: 's' });
      const r0 = await reg.aliasesRevision();
      await reg.setAlias('champion', 'v1');
      const r1 = await reg.aliasesRevision();
      expect(r1).not.toBe(r0);
      expect(await reg.resolve('champion')).toBe('v1');
      await reg.setAlias('challenger', 'v2');
      await reg.setAlias('champion', 'v2');
      expect(await reg.resolve('champion')).toBe('v2');
      expect((await reg.get('v2'))?.aliases).toEqual(['challenger', 'champion']);
      expect((await reg.get('v1'))?.aliases).toEqual([]);
      await reg.setAlias('challenger', null);
      expect(await reg.resolve('challenger')).toBeUndefined();
      expect(await reg.aliasesRevision()).toBe(await reg.aliasesRevision());
      await expect(reg.setAlias('champion', 'v7')).rejects.toMatchObject({ code: 'model_not_found' });
    });
  });
};

contract('FileModelRegistry', () => new FileModelRegistry(dir));
contract('InMemoryModelRegistry', () => new InMemoryModelRegistry());

describe('FileModelRegistry across processes', () => {
  it('gives concurrent registrations different versions, each with its own artifact', async () => {
    const writers = Array.from({ length: 8 }, () => new FileModelRegistry(dir));
    const records = await Promise.all(
      writers.map((reg, i) => reg.register({ writer: i }, { source: `w${i}` })),
    );
    const versions = records.map((r) => r.version);
    expect(new Set(versions).size).toBe(8);
    const reader = new FileModelRegistry(dir);
    for (const [i, r] of records.entries())
      expect(await reader.loadArtifact(r.version)).toEqual({ writer: i });
    expect((await reader.list()).length).toBe(8);
    expect((await readdir(path.join(dir, 'models'))).filter((f) => f.startsWith('.tmp'))).toEqual([]);
  });

  it('never rewrites an artifact once registered', async () => {
    const reg = new FileModelRegistry(dir);
    const v1 = await reg.register({ a: 1 }, { source: 's' });
    const file = path.join(dir, 'models', `${v1.version}.json`);
    const before = await stat(file);
    await reg.register({ a: 2 }, { source: 's' });
    await reg.setAlias('champion', v1.version);
    const after = await stat(file);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ a: 1 });
  });

  it('lets another process see aliases moved by this one, and concurrent moves of different aliases both land', async () => {
    const a = new FileModelRegistry(dir);
    const b = new FileModelRegistry(dir);
    await a.register({ n: 1 }, { source: 's' });
    await a.register({ n: 2 }, { source: 's' });
    const seen = await b.aliasesRevision();
    await Promise.all([a.setAlias('champion', 'v1'), b.setAlias('challenger', 'v2')]);
    expect(await b.aliasesRevision()).not.toBe(seen);
    expect(await b.resolve('champion')).toBe('v1');
    expect(await a.resolve('challenger')).toBe('v2');
  });
});
