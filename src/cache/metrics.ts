import { Counter, Gauge, Histogram, LATENCY_BUCKETS, type Registry } from '../platform/index.js';

export type CacheLevel = 'l1' | 'l2';
export type LookupResult = 'hit' | 'miss' | 'stale';
/** Why an L2 call gave no answer: Redis known down (not even tried), past the deadline, or a Redis error. */
export type L2FailureReason = 'down' | 'timeout' | 'error';

export interface CacheMetrics {
  requests: Counter<'cache' | 'level' | 'result'>;
  evictions: Counter<'cache' | 'level'>;
  loadSeconds: Histogram<'cache'>;
  loadFailures: Counter<'cache' | 'mode'>;
  l2Calls: Counter<'cache' | 'op'>;
  l2Failures: Counter<'cache' | 'op' | 'reason'>;
  l2Up: Gauge;
  /** The caches whose L1 the byte gauges report (each adds itself, and leaves on close). */
  held: Set<{ readonly name: string; stats(): { l1: { bytes: number; entries: number } } }>;
}

// Every cache and the Redis connection of a process share one set of metrics per registry; prom-client refuses a
// second registration of the same name, so the set is created once and found again here.
const byRegistry = new WeakMap<Registry, CacheMetrics>();

export function cacheMetrics(registry: Registry): CacheMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const held: CacheMetrics['held'] = new Set();
  new Gauge({
    name: 'etaserve_cache_l1_bytes',
    help: "Bytes an L1 holds by its own count (the decoded values' heap, estimated), against its bound",
    labelNames: ['cache'],
    registers,
    collect() {
      for (const cache of held) this.set({ cache: cache.name }, cache.stats().l1.bytes);
    },
  });
  new Gauge({
    name: 'etaserve_cache_l1_entries',
    help: 'Entries an L1 holds',
    labelNames: ['cache'],
    registers,
    collect() {
      for (const cache of held) this.set({ cache: cache.name }, cache.stats().l1.entries);
    },
  });
  const metrics: CacheMetrics = {
    held,
    requests: new Counter({
      name: 'etaserve_cache_requests_total',
      help: 'Cache lookups by cache, level (l1, l2) and result (hit, miss, stale: served while refreshing)',
      labelNames: ['cache', 'level', 'result'],
      registers,
    }),
    evictions: new Counter({
      name: 'etaserve_cache_evictions_total',
      help: 'Entries evicted to stay within the byte bound, by cache and level',
      labelNames: ['cache', 'level'],
      registers,
    }),
    loadSeconds: new Histogram({
      name: 'etaserve_cache_load_seconds',
      help: 'Time of the loader behind a cache (one per single-flight miss or refresh)',
      labelNames: ['cache'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    loadFailures: new Counter({
      name: 'etaserve_cache_load_failures_total',
      help: 'Loader failures by cache and mode (miss: the caller gets the error; refresh: the stale value stays)',
      labelNames: ['cache', 'mode'],
      registers,
    }),
    l2Calls: new Counter({
      name: 'etaserve_cache_l2_calls_total',
      help: 'L2 calls that Redis answered, by cache and op (get, set, del); refreshes included',
      labelNames: ['cache', 'op'],
      registers,
    }),
    l2Failures: new Counter({
      name: 'etaserve_cache_l2_failures_total',
      help: 'L2 calls that gave no answer and were skipped (the request went on from L1 or the loader)',
      labelNames: ['cache', 'op', 'reason'],
      registers,
    }),
    l2Up: new Gauge({
      name: 'etaserve_cache_l2_up',
      help: 'Whether the Redis L2 is connected (1) or down and being retried (0)',
      registers,
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
