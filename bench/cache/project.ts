/**
 * Projects the cache benchmark's hit ratios without a cluster: replays the same mix (bench/cache/source.ts) through
 * a model of the four caches, with the real keys (`CacheKeys`, the gateway's basket buckets) and the configured TTLs
 * and grace. A miss loads; a read past the TTL but within the grace is a hit that refreshes; feature caches are per
 * predictor replica (requests spread at random) unless `--shared` (a Redis L2). It runs minutes of traffic in
 * seconds, so it shows what the cluster run cannot: the steady state, another resolution or TTL, and order events.
 *
 * The benchmark's load sends no order events, so there live state never changes and nothing is invalidated.
 * `--orders-per-request 0.1` makes a tenth of requests orders, but no store takes more than
 * `--kitchen-orders-per-hour` (60: a popular store gets far more ETA requests than its kitchen can cook). Each
 * order changes its store's live state twice (accepted a minute later, ready 15 minutes after that), and the store
 * module's announcements follow as in service
 * (src/store/live-changes.ts): every `changeCoalesceMs` the changed stores' live entries are dropped, and one
 * period later their generation moves, so their responses take new keys. `--unheard` models a process that hears
 * no changes (a local cluster without Redis): the short `unheardTtlMs` instead. Against measured runs it agrees
 * within a few points; measured figures are the ones to quote.
 *
 *   node --import tsx bench/cache/project.ts [--rate 2000] [--minutes 15] [--measure 1] [--resolution 8] [--shared]
 *     [--orders-per-request 0] [--kitchen-orders-per-hour 60] [--unheard] [--response-ttl-ms N] [--live-ttl-ms N]
 *     [--geo-ttl-ms N]
 */
import { parseArgs } from 'node:util';
import { Value } from 'typebox/value';
import {
  CacheKeys,
  cacheConfigFor,
  cacheConfigSchema,
  geoTravelKey,
  storeLiveKey,
  type CacheConfig,
} from '../../src/cache/index.js';
import { basketBucket } from '../../src/gateway/response-cache.js';
import { createMix } from '../peak/mix.js';
import { rng } from '../peak/mix-math.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    minutes: { type: 'string', default: '15' },
    measure: { type: 'string', default: '1' },
    resolution: { type: 'string', default: '8' },
    replicas: { type: 'string', default: '2' },
    shared: { type: 'boolean', default: false },
    seed: { type: 'string', default: '42' },
    'orders-per-request': { type: 'string', default: '0' },
    'kitchen-orders-per-hour': { type: 'string', default: '60' },
    unheard: { type: 'boolean', default: false },
    'response-ttl-ms': { type: 'string' },
    'live-ttl-ms': { type: 'string' },
    'geo-ttl-ms': { type: 'string' },
  },
});
const heard = !values.unheard;
const config = cacheConfigFor(Value.Default(cacheConfigSchema, {}) as CacheConfig, heard);
const grace = config.refresh.graceRatio;
const ACCEPTED_AFTER_MS = 60_000;
const READY_AFTER_MS = ACCEPTED_AFTER_MS + 15 * 60_000;

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
  drop(key: string): void {
    this.loaded.delete(key);
  }
}

const rate = Number(values.rate);
const ordersPerRequest = Number(values['orders-per-request']);
const orderSpacingMs = 3_600_000 / Number(values['kitchen-orders-per-hour']);
const lastOrder = new Map<string, number>();
const coalesceMs = config.changeCoalesceMs;
const keys = new CacheKeys(Number(values.resolution));
const generations = new Map<string, number>();
if (heard) keys.followGenerations({ generation: (id) => generations.get(id) ?? 0 }, 1);
const mix = createMix({ stores: 10_000, zipfS: 1.1, seed: Number(values.seed) });
const draw = rng(Number(values.seed) + 1);
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

// Live-state changes to come (two queues, each in time order) and the store module's announcements.
const accepted: Array<{ at: number; store: string }> = [];
const ready: Array<{ at: number; store: string }> = [];
let changed = new Set<string>();
let toAdvance: string[] = [];
let tick = Math.floor(start / coalesceMs);
let invalidations = 0;

function applyChanges(now: number): void {
  for (const queue of [accepted, ready]) {
    while (queue.length > 0 && queue[0]!.at <= now) changed.add(queue.shift()!.store);
  }
  const nowTick = Math.floor(now / coalesceMs);
  if (nowTick === tick) return;
  tick = nowTick;
  for (const id of toAdvance) generations.set(id, (generations.get(id) ?? 0) + 1);
  for (const id of changed) for (const r of replicas) r.live.drop(storeLiveKey(id));
  if (now >= start + (from * 1000) / rate) invalidations += changed.size;
  toAdvance = [...changed];
  changed = new Set();
}

let requests = 0;
let withoutSource = 0;
for (let i = 0; i < total; i++) {
  const at = start + (i * 1000) / rate;
  if (heard) applyChanges(at);
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
    const r = replicas[Math.floor(draw() * replicas.length)]!;
    const profile = r.profiles.read(store.id, at, counted);
    const live = r.live.read(storeLiveKey(store.id), at, counted);
    const geo = r.geo.read(geoTravelKey(store.id, store), at, counted);
    answered = profile && live && geo;
  }
  const kitchenFree = at - (lastOrder.get(store.id) ?? -Infinity) >= orderSpacingMs;
  if (ordersPerRequest > 0 && kitchenFree && draw() < ordersPerRequest) {
    lastOrder.set(store.id, at);
    accepted.push({ at: at + ACCEPTED_AFTER_MS, store: store.id });
    ready.push({ at: at + READY_AFTER_MS, store: store.id });
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
const where = values.shared ? 'shared L2' : `${replicas.length} replicas, L1 only`;
const events =
  ordersPerRequest > 0
    ? `${ordersPerRequest} orders per request (at most ${values['kitchen-orders-per-hour']} per store and hour), ${Math.round(invalidations / (Number(values.measure) * 60))} store changes announced/s`
    : 'no order events';
console.log(
  `${rate} req/s, res ${keys.destinationResolution}, last ${values.measure} of ${values.minutes} min, ${where}, ${events}${heard ? '' : ', changes unheard'}:`,
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
