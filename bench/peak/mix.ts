/**
 * The realistic request mix for the platform scenarios (2-5), as a load generator source module:
 *   source: { kind: 'module', module: 'bench/peak/mix.ts', options: { kind: 'single' } }
 *
 * - Store popularity: Zipf(1.1) over 10,000 stores, ids `s-00001`..`s-10000` (popularity rank shuffled over ids
 *   with the seed, so the hottest stores are spread over markets).
 * - Stores sit in six markets (city centres, UTC offsets); each store is scattered around its centre.
 * - Destinations around the store: log-normal distance (median 2.5 km, capped at 12 km), uniform bearing.
 * - Time of day (local): lunch peak ~12:30, dinner peak ~19:30, and a background from 07:00 to midnight, over a
 *   week starting at `weekStartMs` (default: the Monday before today, UTC).
 * - List pages: a batch of 50 distinct stores of one market, drawn by popularity, one destination.
 * Deterministic for a seed. Bodies are built once (`poolSize`) and cycled, so the generator stays cheap.
 * The body shapes follow `src/predictor/schemas.ts` (snake_case); the events shape is provisional until the
 * gateway's `/v1/events` lands.
 */
import type { LoadRequest, RequestSource } from '../loadgen/index.js';

export interface MixOptions {
  /** `single` = POST /v1/eta, `batch` = POST /v1/eta/batch, `mixed` = both plus events. Default `single`. */
  kind?: 'single' | 'batch' | 'mixed';
  stores?: number;
  zipfS?: number;
  batchSize?: number;
  seed?: number;
  /** Distinct request bodies built up front and cycled. Default 20,000. */
  poolSize?: number;
  /** Shares for `mixed` (normalised). Default eta 0.80, batch 0.15, events 0.05. */
  shares?: { eta?: number; batch?: number; events?: number };
  /** Events per /v1/events request in `mixed`. Default 20. */
  eventsPerRequest?: number;
  weekStartMs?: number;
}

export interface Market {
  name: string;
  lat: number;
  lng: number;
  utcOffsetHours: number;
}

export const MARKETS: readonly Market[] = [
  { name: 'lisbon', lat: 38.7223, lng: -9.1393, utcOffsetHours: 0 },
  { name: 'madrid', lat: 40.4168, lng: -3.7038, utcOffsetHours: 1 },
  { name: 'berlin', lat: 52.52, lng: 13.405, utcOffsetHours: 1 },
  { name: 'warsaw', lat: 52.2297, lng: 21.0122, utcOffsetHours: 1 },
  { name: 'athens', lat: 37.9838, lng: 23.7275, utcOffsetHours: 2 },
  { name: 'istanbul', lat: 41.0082, lng: 28.9784, utcOffsetHours: 3 },
];

/** mulberry32: small, fast, good enough for load mixes. Returns [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r: () => number): number {
  const u = 1 - r();
  const v = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Draws ranks 0..n-1 with P(k) proportional to 1/(k+1)^s, by binary search over the CDF. */
export function zipfSampler(n: number, s: number, r: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / Math.pow(k + 1, s);
  for (let k = 0; k < n; k++) cdf[k]! /= sum;
  return () => {
    const u = r();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export const storeId = (index: number): string => `s-${String(index + 1).padStart(5, '0')}`;

export interface Store {
  id: string;
  market: number;
  lat: number;
  lng: number;
}

const KM_PER_DEG_LAT = 111.32;

function offset(lat: number, lng: number, northKm: number, eastKm: number): { lat: number; lng: number } {
  const dLat = northKm / KM_PER_DEG_LAT;
  const dLng = eastKm / (KM_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180));
  return { lat: Math.round((lat + dLat) * 1e6) / 1e6, lng: Math.round((lng + dLng) * 1e6) / 1e6 };
}

/** Local hour of day (fractional) following lunch and dinner peaks. */
export function hourOfDay(r: () => number): number {
  const u = r();
  let h: number;
  if (u < 0.35) h = 12.5 + 0.9 * normal(r);
  else if (u < 0.8) h = 19.5 + 1.3 * normal(r);
  else h = 7 + 17 * r();
  return Math.min(23.99, Math.max(0, h));
}

function mondayBeforeTodayUtc(): number {
  const d = new Date();
  const day = (d.getUTCDay() + 6) % 7; // Monday = 0
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day);
}

export interface Mix {
  stores: Store[];
  /** A popularity-weighted store. */
  pickStore(): Store;
  destinationNear(store: Store): { lat: number; lng: number };
  orderedAtMs(store: Store): number;
  basket(): { items: number; subtotal: number };
  etaBody(): Record<string, unknown>;
  batchBody(): Record<string, unknown>;
  eventsBody(n: number): Record<string, unknown>[];
}

export function createMix(opts: MixOptions = {}): Mix {
  const n = opts.stores ?? 10_000;
  const r = rng(opts.seed ?? 42);
  const zipf = zipfSampler(n, opts.zipfS ?? 1.1, r);
  const batchSize = opts.batchSize ?? 50;
  const weekStart = opts.weekStartMs ?? mondayBeforeTodayUtc();

  // Popularity rank -> store index, shuffled (Fisher-Yates) so rank 0 is not always s-00001.
  const byRank = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [byRank[i], byRank[j]] = [byRank[j]!, byRank[i]!];
  }
  const stores: Store[] = Array.from({ length: n }, (_, i) => {
    const market = Math.floor(r() * MARKETS.length);
    const c = MARKETS[market]!;
    const p = offset(c.lat, c.lng, 4 * normal(r), 4 * normal(r));
    return { id: storeId(i), market, ...p };
  });
  // Per market, its stores in popularity order, for list pages.
  const marketRanks: number[][] = MARKETS.map(() => []);
  for (let rank = 0; rank < n; rank++) marketRanks[stores[byRank[rank]!]!.market]!.push(byRank[rank]!);
  const marketZipf = marketRanks.map((list) => zipfSampler(Math.max(1, list.length), opts.zipfS ?? 1.1, r));

  const pickStore = (): Store => stores[byRank[zipf()]!]!;
  const destinationNear = (s: Store): { lat: number; lng: number } => {
    const km = Math.min(12, 2.5 * Math.exp(0.6 * normal(r)));
    const bearing = 2 * Math.PI * r();
    return offset(s.lat, s.lng, km * Math.cos(bearing), km * Math.sin(bearing));
  };
  const orderedAtMs = (s: Store): number => {
    const day = Math.floor(r() * 7);
    const localHour = hourOfDay(r);
    return Math.round(
      weekStart + day * 86_400_000 + (localHour - MARKETS[s.market]!.utcOffsetHours) * 3_600_000,
    );
  };
  const basket = (): { items: number; subtotal: number } => {
    let items = 1;
    while (items < 12 && r() < 0.55) items++;
    const subtotal = Math.round(items * 7.5 * Math.exp(0.4 * normal(r)) * 100) / 100;
    return { items, subtotal };
  };

  return {
    stores,
    pickStore,
    destinationNear,
    orderedAtMs,
    basket,
    etaBody() {
      const s = pickStore();
      return { store_id: s.id, destination: destinationNear(s), ordered_at_ms: orderedAtMs(s), ...basket() };
    },
    batchBody() {
      const anchor = pickStore();
      const list = marketRanks[anchor.market]!;
      const z = marketZipf[anchor.market]!;
      const ids = new Set<string>([anchor.id]);
      const want = Math.min(batchSize, list.length);
      for (let tries = 0; ids.size < want && tries < want * 50; tries++) ids.add(stores[list[z()]!]!.id);
      return {
        store_ids: [...ids],
        destination: destinationNear(anchor),
        ordered_at_ms: orderedAtMs(anchor),
      };
    },
    eventsBody(count) {
      const out: Record<string, unknown>[] = [];
      for (let i = 0; i < count; i++) {
        const s = pickStore();
        const id = Math.floor(r() * 2 ** 48).toString(36);
        out.push({
          event_id: `bench-${id}`,
          type: 'order.created',
          version: 1,
          occurred_at_ms: orderedAtMs(s),
          order_id: `o-${id}`,
          store_id: s.id,
          destination: destinationNear(s),
          ...basket(),
        });
      }
      return out;
    },
  };
}

/** The load generator's entry point. */
export function createSource(options: Record<string, unknown>): RequestSource {
  const opts = options as MixOptions;
  const mix = createMix(opts);
  const kind = opts.kind ?? 'single';
  const poolSize = opts.poolSize ?? 20_000;
  const batchSize = opts.batchSize ?? 50;
  const eta = (): LoadRequest => ({
    path: '/v1/eta',
    method: 'POST',
    body: JSON.stringify(mix.etaBody()),
    items: 1,
  });
  const batch = (): LoadRequest => ({
    path: '/v1/eta/batch',
    method: 'POST',
    body: JSON.stringify(mix.batchBody()),
    items: batchSize,
  });
  const perEvents = opts.eventsPerRequest ?? 20;
  const events = (): LoadRequest => ({
    path: '/v1/events',
    method: 'POST',
    body: JSON.stringify(mix.eventsBody(perEvents)),
    items: perEvents,
  });
  const shares = { eta: 0.8, batch: 0.15, events: 0.05, ...opts.shares };
  const total = shares.eta + shares.batch + shares.events;
  const pick = rng((opts.seed ?? 42) ^ 0x5bd1e995);
  const make = (): LoadRequest => {
    if (kind === 'single') return eta();
    if (kind === 'batch') return batch();
    const u = pick() * total;
    return u < shares.eta ? eta() : u < shares.eta + shares.batch ? batch() : events();
  };
  const pool: LoadRequest[] = Array.from({ length: poolSize }, () => {
    const req = make();
    return { ...req, body: Buffer.from(req.body as string) };
  });
  let i = 0;
  return {
    next() {
      const req = pool[i]!;
      i = i + 1 === pool.length ? 0 : i + 1;
      return req;
    },
  };
}
