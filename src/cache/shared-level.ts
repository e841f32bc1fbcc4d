import { decodeEnvelope, encodeEnvelope, heapBytesOf, type Entry } from './entry.js';
import type { Codec, L2Outcome, L2Store } from './l2.js';
import { counterSeries, type CounterSeries } from '../platform/index.js';
import type { CacheMetrics, L2FailureReason, LookupResult } from './metrics.js';

type L2Op = 'get' | 'set' | 'del';

/**
 * One cache's view of L2: its key namespace, the envelope that carries each entry's clock, and the counting of
 * failures, which are skipped rather than thrown. Without a store every call is a no-op, so the tiered cache has
 * no `if (l2)` of its own.
 */
export class SharedLevel<V> {
  failures = 0;
  /** Bound once: every L2 call that Redis answers adds to one of these. */
  private readonly calls: Record<L2Op, CounterSeries>;

  constructor(
    private readonly store: L2Store | undefined,
    private readonly cache: string,
    private readonly codec: Codec<V>,
    private readonly metrics: CacheMetrics,
    private readonly count: (result: LookupResult) => void,
  ) {
    const series = (op: L2Op): CounterSeries => counterSeries(metrics.l2Calls, { cache, op });
    this.calls = { get: series('get'), set: series('set'), del: series('del') };
  }

  get enabled(): boolean {
    return this.store !== undefined;
  }

  /** Keys live in Redis as `etaserve:<cache>:<key>`; without a hash tag they spread over all cluster slots. */
  key(key: string): string {
    return `etaserve:${this.cache}:${key}`;
  }

  /**
   * Entries still servable (fresh or inside their grace window), in one round trip. A background refresh reads
   * uncounted: its reader was already counted at L1, and counting it again would inflate the hit ratio.
   */
  async read(keys: string[], counted = true): Promise<Map<string, Entry<V>>> {
    const count = counted ? this.count : (): void => {};
    const out = new Map<string, Entry<V>>();
    if (!this.store) return out;
    const result = await this.store.mget(keys.map((k) => this.key(k)));
    if (!this.succeeded('get', result)) return out;
    const now = Date.now();
    keys.forEach((key, i) => {
      const text = result.value[i];
      const head = text === undefined ? undefined : decodeEnvelope(text);
      if (!head || now >= head.staleUntil) return void count('miss');
      try {
        const { freshUntil, staleUntil, loadMs, payload } = head;
        out.set(key, {
          value: this.codec.decode(payload),
          freshUntil,
          staleUntil,
          loadMs,
          bytes: heapBytesOf(payload),
        });
        count(now < head.freshUntil ? 'hit' : 'stale');
      } catch {
        // A value another version wrote and this one cannot read is a miss, not an error.
        count('miss');
      }
    });
    return out;
  }

  /**
   * Kept in Redis until the end of the grace window, so another replica can serve it stale while refreshing. Each
   * write carries the value as the codec encoded it when the entry was made, so it is not encoded twice.
   */
  async write(writes: [key: string, entry: Entry<V>, payload: string][]): Promise<void> {
    if (!this.store || writes.length === 0) return;
    const now = Date.now();
    const payloads = writes
      .map(([key, entry, payload]) => ({
        key: this.key(key),
        payload: encodeEnvelope(entry, payload),
        ttlMs: entry.staleUntil - now,
      }))
      .filter((w) => w.ttlMs > 0);
    this.succeeded('set', await this.store.set(payloads));
  }

  async delete(keys: string[]): Promise<void> {
    if (!this.store || keys.length === 0) return;
    this.succeeded('del', await this.store.del(keys.map((k) => this.key(k))));
  }

  recordFailure(op: string, reason: L2FailureReason): void {
    this.failures++;
    this.metrics.l2Failures.labels(this.cache, op, reason).inc();
  }

  private succeeded<T>(op: L2Op, result: L2Outcome<T>): result is { ok: true; value: T } {
    if (result.ok) this.calls[op].inc();
    else this.recordFailure(op, result.error);
    return result.ok;
  }
}
