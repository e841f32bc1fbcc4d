/** The cache benchmark's figures from raw counts: hit ratios from cache metric deltas, percentiles over every request. */
import type { LoadResult } from '../loadgen/index.js';
import { decodeHistogram } from '../loadgen/index.js';

/** Samples of `etaserve_cache_requests_total` and `etaserve_cache_evictions_total`, summed over processes. */
export type Samples = Map<string, number>;

export interface Ratios {
  /** Per cache and level: hits (fresh or stale) over lookups at that level. */
  levels: Array<{ cache: string; level: string; lookups: number; hitRatio: number }>;
  /** Per cache: lookups answered by any level over all lookups. */
  caches: Array<{ cache: string; lookups: number; hits: number; hitRatio: number; evictions: number }>;
  /** The headline: lookups answered by any level of any cache over every lookup, as a cache dashboard sums them. */
  combined: number;
  /** Requests the gateway answered from its response cache, so no predictor was called (absent when it is off). */
  responses?: number;
  /**
   * Requests answered without waiting for a store or geo load: a response-cache hit, or a predictor call whose
   * store-profile, store-live and geo-trip lookups all hit. Counters cannot say which request missed which cache,
   * so this is a range: misses all in one request each (low) or piled onto the same requests (high).
   */
  withoutSource: { low: number; high: number };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
const clamp = (x: number): number => Math.min(1, Math.max(0, x));
const FEATURE_CACHES = ['store-profiles', 'store-live', 'geo-trips'];

/**
 * `requests`: the ETA requests answered in the window, used only when the response cache is off (then every request
 * went to a predictor).
 */
export function hitRatios(before: Samples, after: Samples, requests: number): Ratios {
  const delta = (key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const counts = new Map<string, Record<string, number>>();
  const evictions = new Map<string, number>();
  for (const key of after.keys()) {
    const labels = Object.fromEntries([...key.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (key.startsWith('etaserve_cache_evictions_total')) {
      evictions.set(labels.cache!, (evictions.get(labels.cache!) ?? 0) + delta(key));
      continue;
    }
    const id = `${labels.cache}|${labels.level}`;
    const c = counts.get(id) ?? { hit: 0, stale: 0, miss: 0 };
    c[labels.result!] = (c[labels.result!] ?? 0) + delta(key);
    counts.set(id, c);
  }
  const levels = [...counts].map(([id, c]) => {
    const [cache, level] = id.split('|') as [string, string];
    const lookups = c.hit! + c.stale! + c.miss!;
    return { cache, level, lookups, hitRatio: lookups ? round((c.hit! + c.stale!) / lookups) : 0 };
  });
  const names = [...new Set(levels.map((l) => l.cache))].sort();
  const caches = names.map((cache) => {
    const l1 = counts.get(`${cache}|l1`) ?? { hit: 0, stale: 0, miss: 0 };
    const l2 = counts.get(`${cache}|l2`) ?? { hit: 0, stale: 0, miss: 0 };
    // Every lookup starts at L1; L2 sees only L1's misses, so L1 lookups count each lookup once.
    const lookups = l1.hit! + l1.stale! + l1.miss!;
    const hits = l1.hit! + l1.stale! + l2.hit! + l2.stale!;
    const hitRatio = lookups ? round(hits / lookups) : 0;
    return { cache, lookups, hits, hitRatio, evictions: evictions.get(cache) ?? 0 };
  });
  const allLookups = caches.reduce((a, c) => a + c.lookups, 0);
  const allHits = caches.reduce((a, c) => a + c.hits, 0);
  const response = caches.find((c) => c.cache === 'responses' && c.lookups > 0);
  const total = response ? response.lookups : requests;
  const predicted = response ? response.lookups - response.hits : requests;
  const misses = FEATURE_CACHES.map((name) => {
    const c = caches.find((x) => x.cache === name);
    return c ? c.lookups - c.hits : 0;
  });
  const spread = Math.min(
    predicted,
    misses.reduce((a, m) => a + m, 0),
  );
  const piled = Math.max(0, ...misses);
  return {
    levels: levels.sort((a, b) => `${a.cache}${a.level}`.localeCompare(`${b.cache}${b.level}`)),
    caches,
    combined: allLookups ? round(allHits / allLookups) : 0,
    ...(response ? { responses: round(response.hits / response.lookups) } : {}),
    withoutSource: total
      ? { low: round(clamp(1 - spread / total)), high: round(clamp(1 - piled / total)) }
      : { low: 0, high: 0 },
  };
}

export interface AllRequests {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * Percentiles over every request sent, an unanswered one (timeout, error, non-2xx) counting as slower than any
 * answer: `null` where the percentile falls among those. The 2xx-only percentiles hide an overloaded server.
 */
export function allRequestPercentiles(load: LoadResult): AllRequests {
  const h = decodeHistogram(load.histogram);
  const ok = h.totalCount;
  const at = (q: number): number | null => {
    const rank = Math.ceil(q * load.sent);
    if (ok === 0 || rank > ok) return null;
    return Math.round(Math.min(h.getValueAtPercentile((100 * rank) / ok), h.maxValue)) / 1000;
  };
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

/**
 * Share of requests for stores that get less than one request per `windowSec` at `rate` under Zipf(`s`) over `n`
 * stores: a per-store cache whose entries live `windowSec` rarely holds them, whatever its size.
 */
export function zipfColdShare(n: number, s: number, rate: number, windowSec: number): number {
  let sum = 0;
  for (let k = 1; k <= n; k++) sum += 1 / Math.pow(k, s);
  let cold = 0;
  for (let k = 1; k <= n; k++) {
    const p = 1 / Math.pow(k, s) / sum;
    if (p * rate * windowSec < 1) cold += p;
  }
  return round(cold);
}
