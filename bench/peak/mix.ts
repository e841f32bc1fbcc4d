/**
 * The realistic request mix for the platform scenarios (2-5), as a load generator source module:
 *   source: { kind: 'module', module: 'bench/peak/mix.ts', options: { kind: 'single', catalogFile } }
 *
 * - Stores: read from `catalogFile` (what `GET /v1/stores` of the server under test holds: ids, locations,
 *   timezones, opening hours; `bench/peak/catalog.ts` writes it), so every id exists and every order time falls in
 *   the store's opening hours. Without it: 10,000 synthetic stores `s-0001`..`s-10000` (the simulator's id format)
 *   in six markets, open 11:00-23:00 local.
 * - Store popularity: Zipf(1.1) over the stores (popularity rank shuffled over ids with the seed).
 * - Destinations around the store: log-normal distance (median 2.5 km, capped at 12 km), uniform bearing.
 * - Time of day (local): lunch peak ~12:30, dinner peak ~19:30 and a background, redrawn until the store is open,
 *   over a week starting at `weekStartMs` (default: the Monday before today, UTC).
 * - List pages: a batch of 50 distinct stores of one market drawn by popularity, one destination.
 * - Events (`/v1/events`): `order.created` with every field its schema requires; each request gets fresh
 *   `event_id`s (a counter), so a cycled body is never a duplicate and accepted events can be counted exactly.
 * Deterministic for a seed. ETA bodies are built once (`poolSize`) and cycled, so the generator stays cheap.
 * Body shapes follow the public API (`src/gateway/schemas.ts`: `ordered_at` ISO 8601).
 */
import { readFileSync } from 'node:fs';
import {
  distanceKm,
  hourOfDay,
  mondayBeforeTodayUtc,
  normal,
  offset,
  rng,
  utcOffsetHours,
  zipfSampler,
} from './mix-math.js';
import type { LoadRequest, RequestSource } from '../loadgen/index.js';

export interface MixOptions {
  /** `single` = POST /v1/eta, `batch` = /v1/eta/batch, `events` = /v1/events, `mixed` = all three. Default `single`. */
  kind?: 'single' | 'batch' | 'mixed' | 'events';
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
  /** JSON array of `CatalogStore` (see `bench/peak/catalog.ts`): the stores the server holds. */
  catalogFile?: string;
  /** Prefix of generated event ids, so two runs against one event log never collide. Default `bench`. */
  eventIdPrefix?: string;
  /**
   * Seed of the draws (stores picked, destinations, baskets, times) apart from `seed`, which then fixes only the
   * stores and their popularity: two runs over one catalog with different draws. Default: the draws follow `seed`.
   */
  drawSeed?: number;
}

/** A store as the mix needs it; `hours[d]` = open intervals of weekday d (0 = Monday) in local minutes. */
export interface CatalogStore {
  id: string;
  lat: number;
  lng: number;
  timezone: string;
  /** The store delivers within this distance: a checkout never asks for an ETA outside it. */
  radiusKm?: number;
  hours?: Array<Array<[number, number]>>;
}

export { hourOfDay, rng, utcOffsetHours, zipfSampler };

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

/** The simulator's id format (src/simulator/city.ts): `s-0001`, ..., `s-9999`, `s-10000`. */
export const storeId = (index: number): string => `s-${String(index + 1).padStart(4, '0')}`;

export interface Store {
  id: string;
  market: number;
  lat: number;
  lng: number;
  radiusKm?: number;
  hours?: Array<Array<[number, number]>>;
}

const isOpen = (s: Store, day: number, minute: number): boolean => {
  if (!s.hours) return minute >= 11 * 60 && minute < 23 * 60;
  // An interval past midnight (close > 1440) covers the early hours of the next day too.
  const prev = s.hours[(day + 6) % 7] ?? [];
  return (
    (s.hours[day] ?? []).some(([o, c]) => minute >= o && minute < c) ||
    prev.some(([, c]) => c > 1440 && minute + 1440 < c)
  );
};

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

function syntheticStores(n: number, r: () => number): { stores: Store[]; offsets: number[] } {
  const stores = Array.from({ length: n }, (_, i) => {
    const market = Math.floor(r() * MARKETS.length);
    const c = MARKETS[market]!;
    const p = offset(c.lat, c.lng, 4 * normal(r), 4 * normal(r));
    return { id: storeId(i), market, ...p };
  });
  return { stores, offsets: MARKETS.map((m) => m.utcOffsetHours) };
}

function catalogStores(file: string, weekStart: number): { stores: Store[]; offsets: number[] } {
  const list = JSON.parse(readFileSync(file, 'utf8')) as CatalogStore[];
  const zones: string[] = [];
  const stores = list.map((c) => {
    let market = zones.indexOf(c.timezone);
    if (market < 0) market = zones.push(c.timezone) - 1;
    return {
      id: c.id,
      market,
      lat: c.lat,
      lng: c.lng,
      ...(c.radiusKm ? { radiusKm: c.radiusKm } : {}),
      ...(c.hours ? { hours: c.hours } : {}),
    };
  });
  // One offset per timezone for the week (noon Wednesday): a DST switch inside the week shifts a few orders by 1 h.
  return { stores, offsets: zones.map((z) => utcOffsetHours(z, weekStart + 2.5 * 86_400_000)) };
}

export function createMix(opts: MixOptions = {}): Mix {
  const world = rng(opts.seed ?? 42);
  const r = opts.drawSeed === undefined ? world : rng(opts.drawSeed);
  const weekStart = opts.weekStartMs ?? mondayBeforeTodayUtc();
  const { stores, offsets } = opts.catalogFile
    ? catalogStores(opts.catalogFile, weekStart)
    : syntheticStores(opts.stores ?? 10_000, world);
  const n = stores.length;
  const zipf = zipfSampler(n, opts.zipfS ?? 1.1, r);
  const batchSize = opts.batchSize ?? 50;

  // Popularity rank -> store index, shuffled (Fisher-Yates) so rank 0 is not always the first id.
  const byRank = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(world() * (i + 1));
    [byRank[i], byRank[j]] = [byRank[j]!, byRank[i]!];
  }
  // Per market, its stores in popularity order, for list pages.
  const marketRanks: number[][] = offsets.map(() => []);
  for (let rank = 0; rank < n; rank++) marketRanks[stores[byRank[rank]!]!.market]!.push(byRank[rank]!);
  const marketZipf = marketRanks.map((list) => zipfSampler(Math.max(1, list.length), opts.zipfS ?? 1.1, r));

  const pickStore = (): Store => stores[byRank[zipf()]!]!;
  const destinationNear = (s: Store): { lat: number; lng: number } => {
    // Inside the delivery radius (with a margin for the server's own distance formula): redraw, then clamp.
    const maxKm = s.radiusKm ? 0.95 * s.radiusKm : 12;
    let km = 2.5 * Math.exp(0.6 * normal(r));
    for (let tries = 0; km > maxKm && tries < 10; tries++) km = 2.5 * Math.exp(0.6 * normal(r));
    if (km > maxKm) km = maxKm * r();
    const bearing = 2 * Math.PI * r();
    return offset(s.lat, s.lng, km * Math.cos(bearing), km * Math.sin(bearing));
  };
  const orderedAtMs = (s: Store): number => {
    let day = Math.floor(r() * 7);
    let minute = Math.floor(hourOfDay(r) * 60);
    // Customers order when the store is open: redraw the time (then the day) until it is.
    for (let tries = 0; !isOpen(s, day, minute) && tries < 40; tries++) {
      if (tries % 8 === 7) day = Math.floor(r() * 7);
      minute = Math.floor(hourOfDay(r) * 60);
    }
    const localMs = weekStart + day * 86_400_000 + minute * 60_000 + Math.floor(r() * 60_000);
    return Math.round(localMs - offsets[s.market]! * 3_600_000);
  };
  const basket = (): { items: number; subtotal: number } => {
    let items = 1;
    while (items < 12 && r() < 0.55) items++;
    const subtotal = Math.round(items * 7.5 * Math.exp(0.4 * normal(r)) * 100) / 100;
    return { items, subtotal };
  };
  const iso = (ms: number): string => new Date(ms).toISOString();
  let eventSeq = 0;
  const prefix = opts.eventIdPrefix ?? 'bench';

  return {
    stores,
    pickStore,
    destinationNear,
    orderedAtMs,
    basket,
    etaBody() {
      const s = pickStore();
      return {
        store_id: s.id,
        destination: destinationNear(s),
        ordered_at: iso(orderedAtMs(s)),
        ...basket(),
      };
    },
    batchBody() {
      const anchor = pickStore();
      const list = marketRanks[anchor.market]!;
      const z = marketZipf[anchor.market]!;
      const ids = new Set<string>([anchor.id]);
      const want = Math.min(batchSize, list.length);
      const destination = destinationNear(anchor);
      // A list page shows the stores that deliver to the customer.
      for (let tries = 0; ids.size < want && tries < want * 50; tries++) {
        const s = stores[list[z()]!]!;
        if (!s.radiusKm || distanceKm(s, destination) <= 0.95 * s.radiusKm) ids.add(s.id);
      }
      return {
        store_ids: [...ids],
        destination,
        ordered_at: iso(orderedAtMs(anchor)),
      };
    },
    eventsBody(count) {
      const out: Record<string, unknown>[] = [];
      for (let i = 0; i < count; i++) {
        const s = pickStore();
        const at = orderedAtMs(s);
        const eta = Math.round(1200 + 1200 * r());
        const id = `${prefix}-${(eventSeq++).toString(36)}`;
        out.push({
          event_id: id,
          type: 'order.created',
          occurred_at: iso(at),
          order_id: `o-${id}`,
          store_id: s.id,
          destination: destinationNear(s),
          ...basket(),
          quoted_eta_seconds: eta,
          quoted_range_seconds: [Math.round(eta * 0.8), Math.round(eta * 1.3)],
          promised_at: iso(at + eta * 1000),
          model_version: 'v1',
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
    body: Buffer.from(JSON.stringify(mix.etaBody())),
    items: 1,
  });
  const batch = (): LoadRequest => ({
    path: '/v1/eta/batch',
    method: 'POST',
    body: Buffer.from(JSON.stringify(mix.batchBody())),
    items: batchSize,
  });
  const perEvents = opts.eventsPerRequest ?? 20;
  // Built per request, never cycled: a cycled event_id would be a duplicate, not a new event.
  const events = (): LoadRequest => ({
    path: '/v1/events',
    method: 'POST',
    body: JSON.stringify(mix.eventsBody(perEvents)),
    items: perEvents,
  });
  if (kind === 'events') return { next: events };
  const shares = { eta: 0.8, batch: 0.15, events: 0.05, ...opts.shares };
  const total = shares.eta + shares.batch + shares.events;
  const pick = rng((opts.seed ?? 42) ^ 0x5bd1e995);
  type Slot = LoadRequest | 'events';
  const make = (): Slot => {
    if (kind === 'single') return eta();
    if (kind === 'batch') return batch();
    const u = pick() * total;
    return u < shares.eta ? eta() : u < shares.eta + shares.batch ? batch() : 'events';
  };
  const pool: Slot[] = Array.from({ length: poolSize }, make);
  let i = 0;
  return {
    next() {
      const slot = pool[i]!;
      i = i + 1 === pool.length ? 0 : i + 1;
      return slot === 'events' ? events() : slot;
    },
  };
}
