import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { createLogger, Registry, type ModuleContext } from '../platform/index.js';
import { cacheConfigSchema, type CacheConfig } from './config.js';
import { decodeEnvelope, encodeEnvelope, freshness } from './entry.js';
import { createCacheModule } from './module.js';

const ctx = (): ModuleContext => ({
  logger: createLogger({ level: 'silent' }),
  metrics: { registry: new Registry(), httpDuration: undefined as never },
  // Only the logger and registry matter to the cache module.
  platform: {} as ModuleContext['platform'],
});

const config = (section: Record<string, unknown> = {}): CacheConfig =>
  Value.Default(cacheConfigSchema, structuredClone(section)) as CacheConfig;

describe('cache config', () => {
  it('defaults to no Redis and the documented TTLs', () => {
    const c = config();
    expect(c.redisUrl).toBe('');
    expect(c.redisClusterNodes).toEqual([]);
    expect(c.ttlMs).toEqual({
      responses: 150_000,
      storeProfiles: 300_000,
      storeLive: 60_000,
      geoTrips: 120_000,
    });
    expect(c.unheardTtlMs).toEqual({ responses: 5_000, storeLive: 2_000 });
    expect(c.l2TimeoutMs).toBe(30);
    expect(Value.Check(cacheConfigSchema, c)).toBe(true);
    expect(Value.Check(cacheConfigSchema, config({ redisClusterNodes: ['no-port'] }))).toBe(false);
  });
});

describe('createCacheModule without Redis', () => {
  it('serves from L1, hands out one instance per name and invalidates through the local bus', async () => {
    const module = createCacheModule(ctx(), config());
    await module.service.start!(new AbortController().signal);
    const profiles = module.cacheFor<{ name: string }>('store-profiles');
    expect(module.cacheFor('store-profiles')).toBe(profiles);
    expect(await profiles.getOrLoad('s1', async () => ({ name: 'Pizza' }))).toEqual({ name: 'Pizza' });
    expect(profiles.stats().l2.enabled).toBe(false);
    await profiles.invalidate('s1');
    expect(await profiles.get('s1')).toBeUndefined();
    expect(module.stats().map((s) => s.name)).toEqual(['store-profiles']);
    await module.service.stop!();
  });

  it('refuses an unknown cache without settings, and both Redis kinds at once', () => {
    const module = createCacheModule(ctx(), config());
    expect(() => module.cacheFor('other')).toThrow(/not configured/);
    expect(module.cacheFor('other', { ttlMs: 10, l1MaxBytes: 4096 }).name).toBe('other');
    expect(() =>
      createCacheModule(ctx(), config({ redisUrl: 'redis://x:1', redisClusterNodes: ['x:2'] })),
    ).toThrow(/either/);
  });
});

describe('entry clock', () => {
  it('round-trips through the L2 envelope, payloads with separators included', () => {
    const clock = { freshUntil: 10, staleUntil: 20, loadMs: 3 };
    expect(decodeEnvelope(encodeEnvelope(clock, '{"a":"x|y"}'))).toEqual({
      freshUntil: 10,
      staleUntil: 20,
      loadMs: 3,
      payload: '{"a":"x|y"}',
    });
    expect(decodeEnvelope('{"legacy":true}')).toBeUndefined();
  });

  it('classifies fresh, early refresh, stale and expired', () => {
    const e = { freshUntil: 1000, staleUntil: 1500, loadMs: 50 };
    expect(freshness(e, 500, 1, () => 0.5)).toBe('fresh');
    // -ln(1 - 0.999) * 50 ≈ 345 ms early: refresh now.
    expect(freshness(e, 700, 1, () => 0.999)).toBe('refresh-early');
    expect(freshness(e, 700, 0, () => 0.999)).toBe('fresh');
    expect(freshness(e, 1200, 1)).toBe('stale');
    expect(freshness(e, 1500, 1)).toBe('expired');
  });
});
