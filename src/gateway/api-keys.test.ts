import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiKeyFileError, ApiKeyStore, KEY_REFRESH_MS, keyFileIo, type ApiKeyRecord } from './api-keys.js';
import type { KeyBackend } from './key-backend.js';

describe('ApiKeyStore', () => {
  const dir = (): string => mkdtempSync(path.join(tmpdir(), 'keys-'));

  it('keeps only hashes at rest and authenticates the key it issued', async () => {
    const d = dir();
    const store = new ApiKeyStore(d);
    const { record, key } = await store.create('checkout', ['predict']);
    const secret = /^es_[a-z0-9]{8}_(.+)$/.exec(key)![1]!;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(path.join(d, 'api-keys.json'), 'utf8')).not.toContain(secret);
    expect(store.authenticate(key)?.scopes).toEqual(['predict']);
    expect(store.authenticate(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
    // Another process (a gateway) sees the key through the shared data directory.
    expect(new ApiKeyStore(d).authenticate(key)?.keyId).toBe(record.id);
  });

  it('rotation keeps the old key valid for the overlap only', async () => {
    const store = new ApiKeyStore(dir());
    const { record, key: oldKey } = await store.create('app', ['predict', 'events']);
    const rotated = (await store.rotate(record.id, 60))!;
    const now = Date.now();
    expect(store.authenticate(oldKey, now)).toBeDefined();
    expect(store.authenticate(rotated.key, now)?.scopes).toEqual(['predict', 'events']);
    expect(store.authenticate(oldKey, now + 61_000)).toBeUndefined();
  });

  it('revocation takes effect at once', async () => {
    const store = new ApiKeyStore(dir());
    const { record, key } = await store.create('app', ['admin']);
    await store.revoke(record.id);
    expect(store.authenticate(key)).toBeUndefined();
  });

  it('a built-in demo key is never written to disk', async () => {
    const d = dir();
    const store = new ApiKeyStore(d);
    store.addBuiltIn('demo-key-123', ['predict', 'events', 'admin'], 1000);
    expect(store.authenticate('demo-key-123')?.keyId).toBe('demo');
    expect(() => readFileSync(path.join(d, 'api-keys.json'))).toThrow();
  });

  it('a built-in key removed (the warm-up key) is refused at once, even one verified a moment before', () => {
    const store = new ApiKeyStore(dir());
    store.addBuiltIn('warm-up-key-123', ['predict'], 1000, 'warm-up');
    const now = Date.now();
    expect(store.authenticate('warm-up-key-123', now)?.keyId).toBe('warm-up');
    store.removeBuiltIn('warm-up-key-123');
    expect(store.authenticate('warm-up-key-123', now + 1)).toBeUndefined();
  });

  it('a key used a lot still stops working within a second of its revocation by another process', async () => {
    const d = dir();
    const gateway = new ApiKeyStore(d);
    const { record, key } = await new ApiKeyStore(d).create('app', ['predict']);
    const now = Date.now();
    for (let i = 0; i < 100; i++) expect(gateway.authenticate(key, now + i)?.keyId).toBe(record.id);
    expect(gateway.authenticate(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'), now)).toBeUndefined();
    await new ApiKeyStore(d).revoke(record.id);
    expect(gateway.authenticate(key, now + 1100)).toBeUndefined();
  });

  it('a revoke reaches another process within KEY_REFRESH_MS, and not before it looks again', async () => {
    const d = dir();
    const gateway = new ApiKeyStore(d);
    const { record, key } = await new ApiKeyStore(d).create('app', ['predict']);
    const t0 = Date.now();
    expect(gateway.authenticate(key, t0)?.keyId).toBe(record.id);
    await new ApiKeyStore(d).revoke(record.id);
    // The stated bound (docs/security.md): at most KEY_REFRESH_MS after the last look, the revoke is seen.
    expect(gateway.authenticate(key, t0 + KEY_REFRESH_MS)).toBeUndefined();
  });
});

describe('the key file', () => {
  const dir = (): string => mkdtempSync(path.join(tmpdir(), 'keys-'));
  afterEach(() => vi.restoreAllMocks());

  it('is written through a temp file, fsynced, renamed, and its directory fsynced', async () => {
    const d = dir();
    const calls: string[] = [];
    const fds = new Map<number, string>();
    const open = keyFileIo.openSync;
    vi.spyOn(keyFileIo, 'openSync').mockImplementation((p, flags, mode) => {
      const fd = open(p, flags, mode);
      fds.set(fd, path.basename(String(p)));
      calls.push(
        `open ${fds.get(fd) === path.basename(d) ? 'dir' : fds.get(fd)!.endsWith('.tmp') ? 'tmp' : '?'}`,
      );
      return fd;
    });
    const fsync = keyFileIo.fsyncSync;
    vi.spyOn(keyFileIo, 'fsyncSync').mockImplementation((fd) => {
      calls.push(`fsync ${fds.get(fd) === path.basename(d) ? 'dir' : 'tmp'}`);
      fsync(fd);
    });
    const rename = keyFileIo.renameSync;
    vi.spyOn(keyFileIo, 'renameSync').mockImplementation((from, to) => {
      calls.push(`rename to ${path.basename(String(to))}`);
      rename(from, to);
    });
    await new ApiKeyStore(d).create('app', ['predict']);
    expect(calls).toEqual(['open tmp', 'fsync tmp', 'rename to api-keys.json', 'open dir', 'fsync dir']);
    expect(readdirSync(d)).toEqual(['api-keys.json']);
  });

  it('a failed fsync leaves the old file whole and no temp file behind', async () => {
    const d = dir();
    const store = new ApiKeyStore(d);
    const { key } = await store.create('first', ['predict']);
    const before = readFileSync(path.join(d, 'api-keys.json'), 'utf8');
    vi.spyOn(keyFileIo, 'fsyncSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    });
    await expect(store.create('second', ['admin'])).rejects.toThrow(/EIO/);
    expect(readFileSync(path.join(d, 'api-keys.json'), 'utf8')).toBe(before);
    expect(readdirSync(d)).toEqual(['api-keys.json']);
    expect(new ApiKeyStore(d).authenticate(key)?.scopes).toEqual(['predict']);
  });

  it.each([
    ['truncated', (text: string) => text.slice(0, text.length / 2)],
    ['empty', () => ''],
    ['not JSON', () => 'hello'],
    ['the wrong shape', () => '{"keys": {"id": "x"}}'],
    ['a record of the wrong shape', (text: string) => text.replace(/"hash": "[0-9a-f]+"/, '"hash": 42')],
  ])('a damaged file (%s) stops the start with an error naming it', async (_what, damage) => {
    const d = dir();
    await new ApiKeyStore(d).create('app', ['predict']);
    const file = path.join(d, 'api-keys.json');
    writeFileSync(file, damage(readFileSync(file, 'utf8')));
    const store = new ApiKeyStore(d);
    await expect(store.load()).rejects.toThrow(ApiKeyFileError);
    await expect(store.load()).rejects.toThrow(file);
    // Nor does a change overwrite keys it could not read.
    await expect(store.create('other', ['admin'])).rejects.toThrow(ApiKeyFileError);
    await expect(store.createFirstAdminKey()).rejects.toThrow(ApiKeyFileError);
  });

  it('damage while running keeps the keys read before, reported once', async () => {
    const d = dir();
    const reports: string[] = [];
    const store = new ApiKeyStore(d, { onDamage: (e) => reports.push(e.message) });
    const { key } = await store.create('app', ['predict']);
    await store.load();
    writeFileSync(path.join(d, 'api-keys.json'), '{"keys": [');
    const t0 = Date.now();
    expect(store.authenticate(key, t0 + KEY_REFRESH_MS)?.scopes).toEqual(['predict']);
    expect(store.authenticate(key, t0 + 3 * KEY_REFRESH_MS)?.scopes).toEqual(['predict']);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain('api-keys.json');
  });

  it('the first start creates one admin key, printed once, stored as a hash', async () => {
    const d = dir();
    const key = (await new ApiKeyStore(d).createFirstAdminKey())!;
    expect(key).toMatch(/^es_[a-z0-9]{8}_/);
    // The secret is all after the id: it may itself hold '_' (one start in about 60 began with one).
    const secret = key.replace(/^es_[a-z0-9]{8}_/, '');
    expect(secret.length).toBeGreaterThan(20);
    expect(readFileSync(path.join(d, 'api-keys.json'), 'utf8')).not.toContain(secret);
    expect(new ApiKeyStore(d).authenticate(key)?.scopes).toEqual(['predict', 'events', 'admin']);
    // The second start finds the file: no new key.
    expect(await new ApiKeyStore(d).createFirstAdminKey()).toBeUndefined();
  });
});

describe('a database backend that goes down', () => {
  it('keeps the keys loaded before in force, reports it once, and picks up changes when it is back', async () => {
    let records: ApiKeyRecord[] = [];
    let down = false;
    let revision = 0;
    let seen = -1;
    const backend: KeyBackend = {
      kind: 'postgres',
      sync: false,
      read: async () => {
        if (down) throw new Error('connect ECONNREFUSED');
        if (seen === revision) return 'unchanged';
        seen = revision;
        return records;
      },
      write: async (changed) => {
        if (down) throw new Error('connect ECONNREFUSED');
        const byId = new Map(records.map((r) => [r.id, r]));
        for (const r of changed) byId.set(r.id, r);
        records = [...byId.values()];
        revision++;
      },
      bootstrap: async () => false,
      close: async () => undefined,
    };
    const reports: Array<string | undefined> = [];
    const store = new ApiKeyStore(backend, { onRefreshError: (e) => reports.push(e?.message) });
    const { key } = await store.create('app', ['predict']);
    await store.load();
    store.startRefresh();
    try {
      down = true;
      await new Promise((r) => setTimeout(r, 1.5 * KEY_REFRESH_MS));
      expect(store.authenticate(key)?.scopes).toEqual(['predict']);
      expect(store.health().reason).toMatch(/cannot be read from postgres.*ECONNREFUSED/);
      expect(reports).toEqual(['connect ECONNREFUSED']);
      // A change cannot be made while the keys cannot be read: it fails, and nothing half-done remains.
      await expect(store.create('other', ['admin'])).rejects.toThrow(/ECONNREFUSED/);
      down = false;
      await new Promise((r) => setTimeout(r, KEY_REFRESH_MS));
      expect(store.health().reason).toBeUndefined();
      expect(reports).toEqual(['connect ECONNREFUSED', undefined]);
      expect(store.authenticate(key)?.scopes).toEqual(['predict']);
    } finally {
      await store.close();
    }
  });
});
