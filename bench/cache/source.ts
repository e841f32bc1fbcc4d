/**
 * The `POST /v1/eta` load of the cache benchmark, as a load generator source module: the project's Zipf(1.1) mix
 * (bench/peak/mix.ts: 10,000 stores in six markets, destinations around each store, realistic baskets), with the
 * order time left out so each order is "now", as at a live checkout. Bodies are built up front and cycled; the pool
 * is larger than a run sends, so no body repeats within a run and every cache hit is one the mix earned.
 */
import type { RequestSource } from '../loadgen/index.js';
import { createMix } from '../peak/mix.js';

export function createSource(options: Record<string, unknown>): RequestSource {
  const mix = createMix({
    stores: Number(options.stores ?? 10_000),
    zipfS: Number(options.zipfS ?? 1.1),
    seed: Number(options.seed ?? 42),
  });
  const poolSize = Number(options.poolSize ?? 100_000);
  const pool = Array.from({ length: poolSize }, () => {
    const store = mix.pickStore();
    const { items, subtotal } = mix.basket();
    return JSON.stringify({ store_id: store.id, destination: mix.destinationNear(store), items, subtotal });
  });
  let i = 0;
  return { next: () => ({ body: pool[i++ % pool.length]! }) };
}
