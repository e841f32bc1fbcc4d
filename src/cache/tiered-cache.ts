import {
  counterSeries,
  currentContext,
  histogramSeries,
  withContext,
  type CounterSeries,
  type HistogramSeries,
  type Logger,
} from '../platform/index.js';
import { freshness, heapBytesOf, timesFor, type Entry, type RefreshPolicy } from './entry.js';
import type { InvalidationBus } from './invalidation.js';
import { L1 } from './l1.js';
import { jsonCodec, type Codec, type L2Store } from './l2.js';
import type { CacheMetrics, CacheLevel, LookupResult } from './metrics.js';
import { SharedLevel } from './shared-level.js';
import { defer, type Deferred, type Flight } from './flight.js';

export type Loader<V> = (key: string) => Promise<V>;

const NOTHING: ReadonlyMap<string, never> = new Map<string, never>();

/** `found` in the order of `keys` (a single key's map already is). */
function inOrder<V>(keys: readonly string[], found: Map<string, V>): Map<string, V> {
  if (keys.length === 1) return found;
  const ordered = new Map<string, V>();
  for (const key of keys) if (found.has(key)) ordered.set(key, found.get(key)!);
  return ordered;
}
/** Loads the keys it is given; a key missing from the map has no value and is not cached. */
export type BatchLoader<V> = (keys: string[]) => Promise<ReadonlyMap<string, V>>;

export interface LoadOptions {
  /** Overrides the cache's TTL for what this call loads. */
  ttlMs?: number;
}

export interface TieredCacheOptions<V> {
  /** Metric label and key namespace: keys live in L2 as `etaserve:<name>:<key>`. */
  name: string;
  ttlMs: number;
  l1MaxBytes: number;
  refresh: RefreshPolicy;
  metrics: CacheMetrics;
  codec?: Codec<V>;
  /** The shared level; without it L1 alone serves. */
  l2?: L2Store;
  /** Where invalidations are published and heard; without it only this instance drops a key. */
  bus?: InvalidationBus;
  logger?: Logger;
}

export interface CacheStats {
  name: string;
  l1: {
    entries: number;
    bytes: number;
    maxBytes: number;
    evictions: number;
    hits: number;
    stale: number;
    misses: number;
  };
  l2: { enabled: boolean; hits: number; stale: number; misses: number; failures: number };
  loads: number;
  loadFailures: number;
  inflight: number;
}

/**
 * L1 in process, then L2 in Redis, then the loader. Concurrent misses of a key share one load (single flight, the
 * batch path included); hot keys are refreshed in the background before or just after they expire, so readers keep
 * getting a value and the loader sees one call per refresh. L2 trouble is counted and skipped, never thrown.
 */
export class TieredCache<V> {
  readonly name: string;
  private readonly l1: L1<V>;
  private readonly codec: Codec<V>;
  private readonly l2: SharedLevel<V>;
  private readonly flights = new Map<string, Flight<V>>();
  private readonly unsubscribe: (() => void) | undefined;
  private readonly counts = { l1: { hit: 0, stale: 0, miss: 0 }, l2: { hit: 0, stale: 0, miss: 0 } };
  private loads = 0;
  private loadFailures = 0;
  /** The metric series of this cache, bound once: a lookup adds to a number rather than asking prom-client. */
  private readonly series: {
    requests: Record<CacheLevel, Record<LookupResult, CounterSeries>>;
    loadSeconds: HistogramSeries;
    loadFailures: Record<'miss' | 'refresh', CounterSeries>;
  };

  constructor(private readonly options: TieredCacheOptions<V>) {
    this.name = options.name;
    this.codec = options.codec ?? (jsonCodec as Codec<V>);
    const { metrics, name } = options;
    const lookups = (level: CacheLevel): Record<LookupResult, CounterSeries> => ({
      hit: counterSeries(metrics.requests, { cache: name, level, result: 'hit' }),
      stale: counterSeries(metrics.requests, { cache: name, level, result: 'stale' }),
      miss: counterSeries(metrics.requests, { cache: name, level, result: 'miss' }),
    });
    this.series = {
      requests: { l1: lookups('l1'), l2: lookups('l2') },
      loadSeconds: histogramSeries(metrics.loadSeconds, { cache: name }),
      loadFailures: {
        miss: counterSeries(metrics.loadFailures, { cache: name, mode: 'miss' }),
        refresh: counterSeries(metrics.loadFailures, { cache: name, mode: 'refresh' }),
      },
    };
    const evictions = counterSeries(metrics.evictions, { cache: name, level: 'l1' });
    this.l1 = new L1<V>(options.l1MaxBytes, () => evictions.inc());
    this.l2 = new SharedLevel<V>(options.l2, options.name, this.codec, options.metrics, (r) =>
      this.count('l2', r),
    );
    metrics.held.add(this);
    this.unsubscribe = options.bus?.subscribe((event) => {
      if (event.type === 'resync') this.l1.clear();
      else if (event.cache === this.name) for (const key of event.keys) this.forget(key);
    });
  }

  /** A fresh value from L1 or L2, without loading. */
  async get(key: string): Promise<V | undefined> {
    const now = Date.now();
    const local = this.l1.get(key);
    if (local && now < local.freshUntil) return this.count('l1', 'hit', local.value);
    this.count('l1', 'miss');
    const remote = await this.l2.read([key]);
    const entry = remote.get(key);
    if (entry && now < entry.freshUntil) return entry.value;
    return undefined;
  }

  async getOrLoad(key: string, loader: Loader<V>, options: LoadOptions = {}): Promise<V> {
    // The hot path, a fresh L1 hit, allocates nothing.
    const entry = this.l1.get(key);
    if (entry && freshness(entry, Date.now(), this.options.refresh.xfetchBeta) === 'fresh') {
      return this.count('l1', 'hit', entry.value);
    }
    let called = false;
    const one: BatchLoader<V> = async (keys) => {
      called = true;
      return new Map([[keys[0]!, await loader(keys[0]!)]]);
    };
    const found = await this.getOrLoadMany([key], one, options);
    // A batch load of another caller may have left the key out; then it is ours to load.
    if (found.has(key) || called) return found.get(key) as V;
    return (await this.getOrLoadMany([key], one, options)).get(key) as V;
  }

  /**
   * The values of a list page in one L2 round trip and at most one batch load for what is still missing. Keys
   * already being loaded (by either path) are awaited, not loaded again. The result keeps the order of `keys`.
   * When L1 holds every key, the answer is ready without waiting on anything (the common case, kept cheap).
   */
  getOrLoadMany(keys: string[], loader: BatchLoader<V>, options: LoadOptions = {}): Promise<Map<string, V>> {
    try {
      const found = this.resolveMany(keys, loader, options);
      return found instanceof Map ? Promise.resolve(found) : found;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * `getOrLoadMany` that answers at once, without a promise, when L1 holds every key (fresh or servable stale):
   * for callers on the request path that would otherwise put a timer or a race around an answer already there.
   */
  resolveMany(
    keys: string[],
    loader: BatchLoader<V>,
    options: LoadOptions = {},
  ): Map<string, V> | Promise<Map<string, V>> {
    const ttlMs = options.ttlMs ?? this.options.ttlMs;
    const now = Date.now();
    const found = new Map<string, V>();
    const waits: Promise<void>[] = [];
    const missing: string[] = [];
    const refresh: string[] = [];
    for (const key of keys.length === 1 ? keys : new Set(keys)) {
      const entry = this.l1.get(key, now);
      const state = entry ? freshness(entry, now, this.options.refresh.xfetchBeta) : 'expired';
      if (entry && state !== 'expired') {
        found.set(key, this.count('l1', state === 'stale' ? 'stale' : 'hit', entry.value));
        if (state !== 'fresh') refresh.push(key);
        continue;
      }
      this.count('l1', 'miss');
      const flight = this.flights.get(key);
      if (flight) waits.push(flight.promise.then((v) => void (v !== undefined && found.set(key, v))));
      else missing.push(key);
    }
    if (refresh.length > 0) this.refreshInBackground(refresh, loader, ttlMs);
    if (missing.length > 0) {
      const mine = this.fill(missing, loader, ttlMs, 'miss');
      for (const [key, flight] of mine) {
        waits.push(flight.promise.then((v) => void (v !== undefined && found.set(key, v))));
      }
    }
    if (waits.length === 0) return inOrder(keys, found);
    return Promise.all(waits).then(() => inOrder(keys, found));
  }

  /** Stores a value in L1 and L2 as if just loaded. */
  async set(key: string, value: V, ttlMs: number = this.options.ttlMs): Promise<void> {
    // A load already running for the key started before this value existed; it must not overwrite it.
    this.dropFlight(key, 'set');
    const [entry, payload] = this.makeEntry(value, ttlMs, 0);
    this.l1.set(key, entry, Date.now());
    await this.l2.write([[key, entry, payload]]);
  }

  /**
   * Fills L1 (this process only) with values read in bulk, as if each had just been loaded, so a fresh process does
   * not start on misses: a key already held or being loaded is left alone, and filling stops once L1 holds
   * `maxBytes` (by its own count), leaving the rest of the bound to live traffic. Returns how many were added.
   */
  prime(
    values: Iterable<readonly [string, V]>,
    maxBytes: number,
    ttlMs: number = this.options.ttlMs,
  ): number {
    const now = Date.now();
    let added = 0;
    for (const [key, value] of values) {
      if (this.l1.stats().bytes >= maxBytes) break;
      if (this.flights.has(key) || this.l1.get(key, now)) continue;
      this.l1.set(key, this.makeEntry(value, ttlMs, 0)[0], now);
      added++;
    }
    return added;
  }

  /** The L1 bound in bytes. */
  get l1MaxBytes(): number {
    return this.options.l1MaxBytes;
  }

  /** Drops the key here and in L2. Other replicas keep theirs until TTL; use `invalidate` to reach them. */
  async delete(key: string): Promise<void> {
    this.forget(key);
    await this.l2.delete([key]);
  }

  /** Drops the keys in L2 and in every replica's L1 (via the invalidation bus). */
  async invalidate(...keys: string[]): Promise<void> {
    for (const key of keys) this.forget(key);
    await this.l2.delete(keys);
    if (this.options.bus && !(await this.options.bus.publish(this.name, keys))) {
      this.l2.recordFailure('publish', 'error');
    }
  }

  stats(): CacheStats {
    const { l1, l2 } = this.counts;
    return {
      name: this.name,
      l1: { ...this.l1.stats(), hits: l1.hit, stale: l1.stale, misses: l1.miss },
      l2: {
        enabled: this.l2.enabled,
        hits: l2.hit,
        stale: l2.stale,
        misses: l2.miss,
        failures: this.l2.failures,
      },
      loads: this.loads,
      loadFailures: this.loadFailures,
      inflight: this.flights.size,
    };
  }

  /** Stops listening for invalidations, and leaves the byte gauges. */
  close(): void {
    this.unsubscribe?.();
    this.options.metrics.held.delete(this);
  }

  private forget(key: string): void {
    this.l1.delete(key);
    this.dropFlight(key, 'invalidated');
  }

  /** Detaches a running load from the key: later readers start their own, and its result is not stored. */
  private dropFlight(key: string, why: 'invalidated' | 'set'): void {
    const flight = this.flights.get(key);
    if (!flight) return;
    flight.dropped = why;
    this.flights.delete(key);
  }

  private refreshInBackground(keys: string[], loader: BatchLoader<V>, ttlMs: number): void {
    const idle = keys.filter((k) => !this.flights.has(k));
    if (idle.length === 0) return;
    // Waiters on a refresh (readers whose L1 entry vanished meanwhile) see its error; the refresher only counts it.
    for (const flight of this.fill(idle, loader, ttlMs, 'refresh').values())
      flight.promise.catch(() => undefined);
  }

  /** Starts one flight per key: L2 first, then one batch load for the rest. */
  private fill(
    keys: string[],
    loader: BatchLoader<V>,
    ttlMs: number,
    mode: 'miss' | 'refresh',
  ): Map<string, Flight<V>> {
    const deferred = new Map<string, Deferred<V>>();
    for (const key of keys) {
      const d = defer<V>();
      this.flights.set(key, d.flight);
      deferred.set(key, d);
    }
    const settled = new Set<string>();
    const settle = (key: string, value: V | undefined, error?: unknown): void => {
      if (settled.has(key)) return;
      settled.add(key);
      const d = deferred.get(key)!;
      if (this.flights.get(key) === d.flight) this.flights.delete(key);
      if (error !== undefined) d.reject(error);
      else d.resolve(value);
    };
    // Without L2 the loader is called at once rather than after an empty round trip.
    const shared = this.l2.enabled;
    // The loader runs for the request that started the load (its calls carry that request's trace).
    const ctx = currentContext();
    void (async () => {
      const now = Date.now();
      const remote = shared ? await this.l2.read(keys, mode === 'miss') : NOTHING;
      const toLoad: string[] = [];
      for (const key of keys) {
        const entry = remote.get(key);
        // A refresh takes only what another replica loaded since; a miss also takes a stale value and refreshes it.
        const usable = entry && (mode === 'refresh' ? now < entry.freshUntil : now < entry.staleUntil);
        if (!entry || !usable) {
          toLoad.push(key);
          continue;
        }
        if (!deferred.get(key)!.flight.dropped) this.l1.set(key, entry, now);
        settle(key, entry.value);
      }
      const loading = new Set(toLoad);
      const staleFromL2 = keys.filter((k) => !loading.has(k) && now >= remote.get(k)!.freshUntil);
      if (staleFromL2.length > 0) this.refreshInBackground(staleFromL2, loader, ttlMs);
      if (toLoad.length === 0) return;
      let loaded: ReadonlyMap<string, V>;
      const started = performance.now();
      try {
        loaded = await withContext(ctx, () => loader(toLoad));
      } catch (e) {
        this.loadFailures++;
        this.series.loadFailures[mode].inc();
        if (mode === 'refresh')
          this.options.logger?.debug({ cache: this.name, err: e }, 'background refresh failed');
        for (const key of toLoad) settle(key, undefined, e ?? new Error('loader failed'));
        return;
      }
      const loadMs = performance.now() - started;
      this.loads++;
      this.series.loadSeconds.observe(loadMs / 1000);
      const writes: [string, Entry<V>, string][] = [];
      for (const key of toLoad) {
        const value = loaded.get(key);
        if (value === undefined || deferred.get(key)!.flight.dropped) continue;
        const [entry, payload] = this.makeEntry(value, ttlMs, loadMs);
        this.l1.set(key, entry, Date.now());
        writes.push([key, entry, payload]);
      }
      if (shared) {
        // Waiters are answered once L2 holds the value (bounded by the L2 deadline), so a replica asked next finds it.
        await this.l2.write(writes);
        // An invalidation that arrived during the write may have deleted before the write landed: delete again.
        await this.l2.delete(
          writes.filter(([key]) => deferred.get(key)!.flight.dropped === 'invalidated').map(([k]) => k),
        );
      }
      for (const key of toLoad) settle(key, loaded.get(key));
    })().catch((e: unknown) => {
      // A bug above (a codec that throws, say) must still release every waiter.
      for (const key of keys) settle(key, undefined, e);
    });
    return new Map([...deferred].map(([k, d]) => [k, d.flight]));
  }

  /** The entry L1 keeps (sized by the encoding, which it does not keep) and the encoding, for L2. */
  private makeEntry(value: V, ttlMs: number, loadMs: number): [Entry<V>, string] {
    const { freshUntil, staleUntil } = timesFor(Date.now(), ttlMs, this.options.refresh);
    const payload = this.codec.encode(value);
    return [{ value, freshUntil, staleUntil, loadMs, bytes: heapBytesOf(payload) }, payload];
  }

  private count(level: CacheLevel, result: LookupResult): undefined;
  private count<T>(level: CacheLevel, result: LookupResult, value: T): T;
  private count<T>(level: CacheLevel, result: LookupResult, value?: T): T | undefined {
    this.counts[level][result]++;
    this.series.requests[level][result].inc();
    return value;
  }
}
