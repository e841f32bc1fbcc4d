/**
 * The `POST /v1/eta` load of the cache benchmark, as a load generator source module: the project's Zipf(1.1) mix
 * (bench/peak/mix.ts: 10,000 stores in six markets, destinations log-normal around each store, realistic baskets),
 * with the order time left out so each order is "now", as at a live checkout. Each body is drawn when it is sent,
 * never cycled from a pool: at 2,000 req/s a pool would repeat within a run, and every cache hit here must be one
 * the mix earned. A draw and its JSON cost a few microseconds, which the generator's CPU figure includes.
 */
import type { RequestSource } from '../loadgen/index.js';
import { createMix } from '../peak/mix.js';

export function createSource(options: Record<string, unknown>): RequestSource {
  const mix = createMix({
    stores: Number(options.stores ?? 10_000),
    zipfS: Number(options.zipfS ?? 1.1),
    seed: Number(options.seed ?? 42),
    ...(options.drawSeed === undefined ? {} : { drawSeed: Number(options.drawSeed) }),
  });
  return {
    next: () => {
      const store = mix.pickStore();
      const { items, subtotal } = mix.basket();
      return {
        body: JSON.stringify({
          store_id: store.id,
          destination: mix.destinationNear(store),
          items,
          subtotal,
        }),
      };
    },
  };
}
