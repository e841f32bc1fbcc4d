import type { CacheKeys, TieredCache } from '../cache/index.js';
import type { BatchEtaRequest, EtaPrediction, EtaResult } from '../predictor/index.js';

/** Basket size buckets: an order of 2 or 3 items gets the same answer, 8 or more likewise. */
export function basketBucket(items: number | undefined, subtotal: number | undefined): string {
  const i = items === undefined ? 'n' : items <= 1 ? '1' : items <= 3 ? '2-3' : items <= 7 ? '4-7' : '8+';
  const s =
    subtotal === undefined
      ? 'n'
      : subtotal < 15
        ? '<15'
        : subtotal < 30
          ? '<30'
          : subtotal < 60
            ? '<60'
            : '60+';
  return `${i}/${s}`;
}

/**
 * ETA answers cached by what changes them (store, destination cell, time bucket, basket bucket) and by the model
 * version that served them. The gateway learns versions only from answers, so it keys lookups by the version it
 * saw last: after a promotion the first answers come back with the new version and the old keys fall out of use;
 * under a canary, answers of each version are stored under their own version. `load` must not throw for a
 * predictor outage: it answers with the fallback, which is never cached.
 */
export class ResponseCache {
  private served = '';

  constructor(
    private readonly cache: TieredCache<EtaPrediction>,
    private readonly keys: CacheKeys,
  ) {}

  /**
   * Answers from the cache where it has them; the rest from `load`, then cached under the version that served.
   * `store: false` (a warm-up's requests, made-up destinations and hours no client asks for) looks up and loads the
   * same way but caches nothing: the gateway's warm-up would otherwise fill its L1 and L2 with some 20,000 answers.
   */
  async resolve(
    request: BatchEtaRequest,
    load: (storeIds: string[]) => Promise<EtaResult[]>,
    { store = true }: { store?: boolean } = {},
  ): Promise<EtaResult[]> {
    const cell = this.keys.destinationCell(request.destination);
    const basket = basketBucket(request.items, request.subtotal);
    const keyOf = (storeId: string, version: string): string =>
      this.keys.response({
        storeId,
        destinationCell: cell,
        atMs: request.orderedAtMs,
        basketBucket: basket,
        modelVersion: version,
      });
    if (this.served === '') {
      // No version known yet: nothing to look up, but what comes back is cached under the version that served it.
      const results = this.learn(request, await load([...request.storeIds]));
      results.forEach((r, i) => {
        if (store && r.ok && !r.value.degraded)
          void this.cache.set(keyOf(request.storeIds[i]!, r.value.modelVersion), r.value);
      });
      return results;
    }
    const version = this.served;
    const uncached = new Map<string, EtaResult>();
    const keys = request.storeIds.map((id) => keyOf(id, version));
    const found = await this.cache.getOrLoadMany(keys, async (missing) => {
      const ids = missing.map((k) => request.storeIds[keys.indexOf(k)]!);
      const results = await load(ids);
      this.learn({ ...request, storeIds: ids }, results);
      const out = new Map<string, EtaPrediction>();
      results.forEach((r, i) => {
        // Errors and degraded answers are not cached: the next request should try for a real answer.
        if (!r.ok || r.value.degraded || !store) uncached.set(ids[i]!, r);
        else if (r.value.modelVersion === version) out.set(missing[i]!, r.value);
        else {
          uncached.set(ids[i]!, r);
          void this.cache.set(keyOf(ids[i]!, r.value.modelVersion), r.value);
        }
      });
      return out;
    });
    // A key another request was loading may have come back uncached (an error, a degraded answer): ask for it.
    const orphans = request.storeIds.filter((id, i) => !found.has(keys[i]!) && !uncached.has(id));
    if (orphans.length > 0) {
      const results = await load(orphans);
      orphans.forEach((id, i) => uncached.set(id, results[i]!));
    }
    return request.storeIds.map((id, i): EtaResult => {
      const hit = found.get(keys[i]!);
      return hit ? { ok: true, value: hit } : uncached.get(id)!;
    });
  }

  private learn(request: BatchEtaRequest, results: EtaResult[]): EtaResult[] {
    for (const r of results) if (r.ok && !r.value.degraded) this.served = r.value.modelVersion;
    return results;
  }
}
