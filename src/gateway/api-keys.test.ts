import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiKeyStore } from './api-keys.js';

describe('ApiKeyStore', () => {
  const dir = (): string => mkdtempSync(path.join(tmpdir(), 'keys-'));

  it('keeps only hashes at rest and authenticates the key it issued', () => {
    const d = dir();
    const store = new ApiKeyStore(d);
    const { record, key } = store.create('checkout', ['predict']);
    const secret = /^es_[a-z0-9]{8}_(.+)$/.exec(key)![1]!;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(path.join(d, 'api-keys.json'), 'utf8')).not.toContain(secret);
    expect(store.authenticate(key)?.scopes).toEqual(['predict']);
    expect(store.authenticate(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
    // Another process (a gateway) sees the key through the shared data directory.
    expect(new ApiKeyStore(d).authenticate(key)?.keyId).toBe(record.id);
  });

  it('rotation keeps the old key valid for the overlap only', () => {
    const store = new ApiKeyStore(dir());
    const { record, key: oldKey } = store.create('app', ['predict', 'events']);
    const rotated = store.rotate(record.id, 60)!;
    const now = Date.now();
    expect(store.authenticate(oldKey, now)).toBeDefined();
    expect(store.authenticate(rotated.key, now)?.scopes).toEqual(['predict', 'events']);
    expect(store.authenticate(oldKey, now + 61_000)).toBeUndefined();
  });

  it('revocation takes effect at once', () => {
    const store = new ApiKeyStore(dir());
    const { record, key } = store.create('app', ['admin']);
    store.revoke(record.id);
    expect(store.authenticate(key)).toBeUndefined();
  });

  it('a built-in demo key is never written to disk', () => {
    const d = dir();
    const store = new ApiKeyStore(d);
    store.addBuiltIn('demo-key-123', ['predict', 'events', 'admin'], 1000);
    expect(store.authenticate('demo-key-123')?.keyId).toBe('demo');
    expect(() => readFileSync(path.join(d, 'api-keys.json'))).toThrow();
  });

  it('a key used a lot still stops working within a second of its revocation by another process', () => {
    const d = dir();
    const gateway = new ApiKeyStore(d);
    const { record, key } = new ApiKeyStore(d).create('app', ['predict']);
    const now = Date.now();
    for (let i = 0; i < 100; i++) expect(gateway.authenticate(key, now + i)?.keyId).toBe(record.id);
    expect(gateway.authenticate(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'), now)).toBeUndefined();
    new ApiKeyStore(d).revoke(record.id);
    expect(gateway.authenticate(key, now + 1100)).toBeUndefined();
  });
});
