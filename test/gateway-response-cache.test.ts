import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { cacheConfigSchema, createCacheModule, type CacheConfig } from '../src/cache/index.js';
import { ResponseCache } from '../src/gateway/response-cache.js';
import {
  createLogger,
  createMetrics,
  platformConfigSchema,
  type PlatformConfig,
} from '../src/platform/index.js';
import type { BatchEtaRequest, EtaPrediction, EtaResult } from '../src/predictor/index.js';

function responses(section: Record<string, unknown> = {}): ResponseCache {
  const ctx = {
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics({ target: 'test' }),
    platform: Value.Default(platformConfigSchema, {}) as PlatformConfig,
  };
  const cache = createCacheModule(ctx, Value.Default(cacheConfigSchema, section) as CacheConfig);
  return new ResponseCache(cache.cacheFor<EtaPrediction>('responses'), cache.keys);
}

const prediction = (storeId: string, version: string, degraded = false): EtaPrediction => ({
  storeId,
  p10: 1000,
  p50: 1500,
  p90: 2000,
  prepSeconds: 600,
  travelSeconds: 700,
  distanceKm: 2,
  timezone: 'Europe/Paris',
  modelVersion: version,
  degraded,
  degradedReasons: degraded ? ['no_predictor'] : [],
});

// 48.864,2.352 and 48.864,2.349 are 219 m apart in one res-8 cell; 48.865,2.353 is 133 m away in the next one.
const order = (storeIds: string[], lat = 48.864, lng = 2.352): BatchEtaRequest => ({
  storeIds,
  destination: { lat, lng },
  orderedAtMs: Date.UTC(2026, 10, 26, 18, 5),
  items: 2,
});

/** A predictor stand-in that answers with `version` and counts what it was asked. */
function predictor(version: () => string, degraded = false) {
  const asked: string[] = [];
  const load = async (ids: string[]): Promise<EtaResult[]> => {
    asked.push(...ids);
    return ids.map((id) => ({ ok: true, value: prediction(id, version(), degraded) }));
  };
  return { asked, load };
}

describe('the gateway response cache', () => {
  it('answers alike orders (same store, H3 cell, time and basket bucket) from the cache', async () => {
    const cache = responses();
    const p = predictor(() => 'v1');
    await cache.resolve(order(['s-1']), p.load);
    await cache.resolve(order(['s-1']), p.load);
    // 219 m away, in the same res-8 cell (the default destination resolution).
    const [again] = await cache.resolve(order(['s-1'], 48.864, 2.349), p.load);
    await cache.resolve(order(['s-1', 's-2']), p.load);
    expect(again!.ok && again!.value.modelVersion).toBe('v1');
    expect(p.asked).toEqual(['s-1', 's-2']);
  });

  it("caches nothing of a warm-up's requests, before and after it knows the serving version, yet answers from it", async () => {
    const cache = responses();
    const p = predictor(() => 'v1');
    const warm = { store: false };
    await cache.resolve(order(['s-1']), p.load, warm);
    await cache.resolve(order(['s-1', 's-2']), p.load, warm);
    await cache.resolve(order(['s-1']), p.load);
    const [cached] = await cache.resolve(order(['s-1']), p.load, warm);
    expect(cached!.ok && cached!.value.storeId).toBe('s-1');
    // The second warm-up request finds nothing of the first; the client's request finds nothing of either; the
    // warm-up request after it is answered from what the client's request cached.
    expect(p.asked).toEqual(['s-1', 's-1', 's-2', 's-1']);
  });

  it('asks the predictor again for a destination in another cell, however close', async () => {
    const cache = responses();
    const p = predictor(() => 'v1');
    await cache.resolve(order(['s-1']), p.load);
    await cache.resolve(order(['s-1']), p.load);
    await cache.resolve(order(['s-1'], 48.865, 2.353), p.load);
    expect(p.asked).toEqual(['s-1', 's-1']);
  });

  it('follows the configured destination resolution', async () => {
    const cache = responses({ destinationCellResolution: 9 });
    const p = predictor(() => 'v1');
    await cache.resolve(order(['s-1']), p.load);
    await cache.resolve(order(['s-1']), p.load);
    // Same res-8 cell, but two res-9 cells apart.
    await cache.resolve(order(['s-1'], 48.864, 2.349), p.load);
    expect(p.asked).toEqual(['s-1', 's-1']);
  });

  it('keys answers by the model version that served them, so a new version is never answered from old keys', async () => {
    const cache = responses();
    let version = 'v1';
    const p = predictor(() => version);
    await cache.resolve(order(['s-1']), p.load);
    await cache.resolve(order(['s-1']), p.load);
    version = 'v2';
    // The first v2 answer comes from a predictor asked for another store; from then on lookups use v2 keys.
    await cache.resolve(order(['s-9']), p.load);
    const [after] = await cache.resolve(order(['s-1']), p.load);
    expect(after!.ok && after!.value.modelVersion).toBe('v2');
    expect(p.asked).toEqual(['s-1', 's-9', 's-1']);
  });

  it('never caches a degraded answer', async () => {
    const cache = responses();
    const good = predictor(() => 'v1');
    await cache.resolve(order(['s-0']), good.load);
    const fallback = predictor(() => 'fallback', true);
    await cache.resolve(order(['s-1']), fallback.load);
    await cache.resolve(order(['s-1']), fallback.load);
    expect(fallback.asked).toEqual(['s-1', 's-1']);
  });
});
