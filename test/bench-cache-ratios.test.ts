import { describe, expect, it } from 'vitest';
import { hitRatios, zipfColdShare } from '../bench/cache/ratios.js';

const sample = (cache: string, level: string, result: string): string =>
  `etaserve_cache_requests_total{cache="${cache}",level="${level}",result="${result}"}`;

describe('the cache benchmark hit ratios', () => {
  // 100 requests: 60 answered by the response cache; the 40 others each look up the three feature caches.
  const after = new Map([
    [sample('responses', 'l1', 'hit'), 50],
    [sample('responses', 'l1', 'miss'), 50],
    [sample('responses', 'l2', 'hit'), 10],
    [sample('responses', 'l2', 'miss'), 40],
    [sample('store-profiles', 'l1', 'hit'), 40],
    [sample('store-live', 'l1', 'hit'), 20],
    [sample('store-live', 'l1', 'stale'), 5],
    [sample('store-live', 'l1', 'miss'), 15],
    [sample('geo-trips', 'l1', 'hit'), 30],
    [sample('geo-trips', 'l1', 'miss'), 10],
  ]);

  it('count a lookup answered by L1 or L2 once, over every lookup of every cache', () => {
    const r = hitRatios(new Map(), after, 0);
    expect(r.caches.find((c) => c.cache === 'responses')).toMatchObject({ lookups: 100, hitRatio: 0.6 });
    expect(r.caches.find((c) => c.cache === 'store-live')?.hitRatio).toBe(0.625);
    // (60 + 40 + 25 + 30) / (100 + 40 + 40 + 40)
    expect(r.combined).toBe(0.705);
    expect(r.responses).toBe(0.6);
  });

  it('bound the requests answered without a store or geo load by how misses may fall on requests', () => {
    const r = hitRatios(new Map(), after, 0);
    // 25 feature misses: at most 25 requests (spread), at least 15 (piled onto the store-live misses).
    expect(r.withoutSource).toEqual({ low: 0.75, high: 0.85 });
  });

  it('measure only the window: counts before it are subtracted', () => {
    const before = new Map([
      [sample('responses', 'l1', 'hit'), 50],
      [sample('responses', 'l1', 'miss'), 10],
    ]);
    const r = hitRatios(before, after, 0);
    expect(r.caches.find((c) => c.cache === 'responses')).toMatchObject({ lookups: 40, hitRatio: 0.25 });
  });

  it('count the Zipf tail whose stores are asked less than once per window', () => {
    // Zipf(1) over 3 stores at 3 req/s: shares 6/11, 3/11, 2/11, so the 2nd and 3rd get 0.82 and 0.55 req/s.
    expect(zipfColdShare(3, 1, 3, 1)).toBe(0.455);
    expect(zipfColdShare(3, 1, 3, 2)).toBe(0);
  });
});
