/**
 * Projects the cache benchmark's hit ratios without a cluster: replays the same mix (bench/cache/source.ts) through
 * a model of the four caches, with the real keys (`CacheKeys`, the gateway's basket buckets) and the configured TTLs
 * and grace. A miss loads; a read past the TTL but within the grace is a hit that refreshes; feature caches are per
 * predictor replica (requests spread at random) unless `--shared` (a Redis L2). It runs minutes of traffic in
 * seconds, so it shows what the cluster run cannot: the steady state after geo trips' 10 minutes, or another
 * resolution or TTL. Against measured runs it agrees within a few points; measured figures are the ones to quote.
 *
 *   node --import tsx bench/cache/project.ts [--rate 2000] [--minutes 15] [--measure 1] [--resolution 8] [--shared]
 */
import { parseArgs } from 'node:util';
import { Value } from 'typebox/value';
import { CacheKeys, cacheConfigSchema, type CacheConfig } from '../../src/cache/index.js';
import { basketBucket } from '../../src/gateway/response-cache.js';
import { createMix } from '../peak/mix.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    minutes: { type: 'string', default: '15' },
    measure: { type: 'string', default: '1' },
    resolution: { type: 'string', default: '8' },
    replicas: { type: 'string', default: '2' },
    shared: { type: 'boolean', default: false },
    seed: { type: 'string', default: '42' },
    'response-ttl-ms': { type: 'string' },
    'live-ttl-ms': { type: 'string' },
    'geo-ttl-ms': { type: 'string' },
  },
});
const config = Value.Default(cacheConfigSchema, {}) as CacheConfig;
const grace = config.refresh.graceRatio;

/** A TTL cache's hits, by key: lives `ttl`, then serves stale for `ttl * grace` while one refresh runs. */
class TtlModel {
  private readonly loaded = new Map<string, number>();
  lookups = 0;
  hits = 0;
  constructor(private readonly ttlMs: number) {}
  read(key: string, at: number, counted: boolean): boolean {
    const t = this.loaded.get(key);
    const hit = t !== undefined && at < t + this.ttlMs * (1 + grace);
    if (!hit || at >= t + this.ttlMs) this.loaded.set(key, at);
    if (counted) {
      this.lookups++;
      if (hit) this.hits++;
    }
    return hit;
  }
}

const rate = Number(values.rate);
const keys = new CacheKeys(Number(values.resolution));
const mix = createMix({ stores: 10_000, zipfS: 1.1, seed: Number(values.seed) });
const responses = new TtlModel(Number(values['response-ttl-ms'] ?? config.ttlMs.responses));
const replica = () => ({
  profiles: new TtlModel(config.ttlMs.storeProfiles),
  live: new TtlModel(Number(values['live-ttl-ms'] ?? config.ttlMs.storeLive)),
  geo: new TtlModel(Number(values['geo-ttl-ms'] ?? config.ttlMs.geoTrips)),
});
const replicas = Array.from({ length: values.shared ? 1 : Number(values.replicas) }, replica);
const total = Math.round(rate * Number(values.minutes) * 60);
const from = total - Math.round(rate * Number(values.measure) * 60);
const start = Date.UTC(2026, 10, 26, 18, 0);
let requests = 0;
let withoutSource = 0;
for (let i = 0; i < total; i++) {
  const at = start + (i * 1000) / rate;
  const counted = i >= from;
  const store = mix.pickStore();
  const destinationCell = keys.destinationCell(mix.destinationNear(store));
  const { items, subtotal } = mix.basket();
  const key = keys.response({
    storeId: store.id,
    destinationCell,
    atMs: at,
    basketBucket: basketBucket(items, subtotal),
    modelVersion: 'v1',
  });
  let answered = responses.read(key, at, counted);
  if (!answered) {
    const r = replicas[Math.floor(Math.random() * replicas.length)]!;
    const profile = r.profiles.read(store.id, at, counted);
    const live = r.live.read(`${store.id}@${Math.floor(at / 3_600_000)}`, at, counted);
    const geo = r.geo.read(keys.geoTrip(store.id, destinationCell, at), at, counted);
    answered = profile && live && geo;
  }
  if (counted) {
    requests++;
    if (answered) withoutSource++;
  }
}
const pct = (h: number, l: number): string => `${((100 * h) / Math.max(1, l)).toFixed(1)}%`;
const sum = (f: (r: ReturnType<typeof replica>) => TtlModel, k: 'hits' | 'lookups'): number =>
  replicas.reduce((a, r) => a + f(r)[k], 0);
const all = [responses, ...replicas.flatMap((r) => [r.profiles, r.live, r.geo])];
const line = (name: string, f: (r: ReturnType<typeof replica>) => TtlModel): string =>
  `${name} ${pct(sum(f, 'hits'), sum(f, 'lookups'))}`;
console.log(
  `${rate} req/s, res ${keys.destinationResolution}, last ${values.measure} of ${values.minutes} min, ${values.shared ? 'shared L2' : `${replicas.length} replicas, L1 only`}:`,
);
console.log(
  `  responses ${pct(responses.hits, responses.lookups)}, ${line('store-profiles', (r) => r.profiles)}, ${line('store-live', (r) => r.live)}, ${line('geo-trips', (r) => r.geo)}`,
);
console.log(
  `  combined (hits / lookups) ${pct(
    all.reduce((a, c) => a + c.hits, 0),
    all.reduce((a, c) => a + c.lookups, 0),
  )}; requests answered without a store or geo load ${pct(withoutSource, requests)}`,
);
