import { localTime } from '../features/index.js';
import type { StoreLiveSnapshot, StoreLiveState } from './types.js';

export interface LiveStateOptions {
  /** Weight of each new prep time in its hour-of-week slot. */
  alpha: number;
  /** An accepted order never marked ready or cancelled stops counting after this. */
  kitchenOrderTtlMs: number;
  /** The store's timezone, for events that do not carry it; UTC when unknown. */
  timezoneOf?: (storeId: string) => string | undefined;
  /** Beyond this many open orders in one store (lost events), the oldest are dropped. */
  maxOrdersPerStore?: number;
  /**
   * Called after what `get` answers for the store may have changed (an order in or out of its kitchen, a prep time,
   * an order aged out by `sweep`), so caches of it can be dropped. Not called for repeated or unknown events.
   */
  onChange?: (storeId: string) => void;
}

export const HOURS_PER_WEEK = 168;
/** Neighbouring hours are consulted nearest first: a store's 13:00 says more about its 12:00 than its average. */
const NEIGHBOUR_OFFSETS = [1, 2, 3];

/** A store no event has told of: an empty kitchen, no prep times. */
export const EMPTY_LIVE: StoreLiveSnapshot = Object.freeze({
  kitchenUntilMs: Object.freeze([]) as readonly number[],
  prepEwmaSlots: null,
  prepEwmaOverall: null,
});

/**
 * The EWMA for `hourOfWeek`, else the nearest neighbouring hours', else the store's overall EWMA (NaN = none), else
 * null. One rule for the store process and for every process that caches a snapshot.
 */
function ewmaAt(slots: Float32Array, overall: number, hourOfWeek: number): number | null {
  const at = (h: number): number => slots[(h + HOURS_PER_WEEK) % HOURS_PER_WEEK]!;
  if (!Number.isNaN(at(hourOfWeek))) return at(hourOfWeek);
  for (const d of NEIGHBOUR_OFFSETS) {
    const near = [at(hourOfWeek - d), at(hourOfWeek + d)].filter((v) => !Number.isNaN(v));
    if (near.length > 0) return near.reduce((a, b) => a + b, 0) / near.length;
  }
  return Number.isNaN(overall) ? null : overall;
}

/** What `LiveState.get` answered for an order at `atMs` when the snapshot was taken. */
export function liveAt(snapshot: StoreLiveSnapshot, atMs: number, timezone: string): StoreLiveState {
  let ordersInKitchen = 0;
  for (const until of snapshot.kitchenUntilMs) if (until > atMs) ordersInKitchen++;
  const slots = snapshot.prepEwmaSlots;
  return {
    ordersInKitchen,
    prepEwmaSeconds: slots
      ? ewmaAt(slots, snapshot.prepEwmaOverall ?? Number.NaN, localTime(timezone, atMs).hourOfWeek)
      : null,
  };
}

class StoreLive {
  /** orderId -> accepted at (ms); a Map iterates in insertion order, so the first entry is the oldest. */
  readonly kitchen = new Map<string, number>();
  /** EWMA of prep seconds per hour of week (Monday 00:00 = 0) in the store's timezone; NaN = no data yet. */
  slots: Float32Array | undefined;
  overall = Number.NaN;
}

/**
 * Live state of stores, in memory: the orders in each kitchen and prep-time EWMAs per hour of week. A later issue
 * feeds it from the event log; until then callers (and tests) drive it. A prep time counts in the hour of week its
 * order was accepted: that is the hour a prediction for a new order asks about.
 */
export class LiveState {
  private readonly stores = new Map<string, StoreLive>();
  private readonly maxOrders: number;

  constructor(private readonly options: LiveStateOptions) {
    this.maxOrders = options.maxOrdersPerStore ?? 5_000;
  }

  private state(storeId: string): StoreLive {
    let s = this.stores.get(storeId);
    if (!s) {
      s = new StoreLive();
      this.stores.set(storeId, s);
    }
    return s;
  }

  private update(s: StoreLive, hourOfWeek: number, seconds: number): void {
    const { alpha } = this.options;
    s.slots ??= new Float32Array(HOURS_PER_WEEK).fill(Number.NaN);
    const prev = s.slots[hourOfWeek]!;
    s.slots[hourOfWeek] = Number.isNaN(prev) ? seconds : prev + alpha * (seconds - prev);
    s.overall = Number.isNaN(s.overall) ? seconds : s.overall + alpha * (seconds - s.overall);
  }

  /** A repeated event for the same order keeps the first acceptance time. */
  orderAccepted(storeId: string, orderId: string, atMs: number): void {
    const s = this.state(storeId);
    if (s.kitchen.has(orderId)) return;
    if (s.kitchen.size >= this.maxOrders) s.kitchen.delete(s.kitchen.keys().next().value!);
    s.kitchen.set(orderId, atMs);
    this.options.onChange?.(storeId);
  }

  /**
   * The order leaves the kitchen; its prep time updates the EWMA of the hour of week it was accepted in. Returns the
   * prep seconds, or null when the acceptance is unknown (expired, never seen) or the times are inconsistent.
   */
  orderReady(storeId: string, orderId: string, atMs: number, timezone?: string): number | null {
    const s = this.stores.get(storeId);
    const acceptedAt = s?.kitchen.get(orderId);
    if (!s || acceptedAt === undefined) return null;
    s.kitchen.delete(orderId);
    this.options.onChange?.(storeId);
    const seconds = (atMs - acceptedAt) / 1000;
    if (!(seconds > 0) || atMs - acceptedAt > this.options.kitchenOrderTtlMs) return null;
    const tz = timezone ?? this.options.timezoneOf?.(storeId) ?? 'UTC';
    this.update(s, localTime(tz, acceptedAt).hourOfWeek, seconds);
    return seconds;
  }

  orderCancelled(storeId: string, orderId: string): void {
    if (this.stores.get(storeId)?.kitchen.delete(orderId)) this.options.onChange?.(storeId);
  }

  /** History from elsewhere (a projection replayed, a test): sets the slot, and nudges the store's overall EWMA. */
  seed(storeId: string, hourOfWeek: number, ewmaSeconds: number): void {
    if (!Number.isInteger(hourOfWeek) || hourOfWeek < 0 || hourOfWeek >= HOURS_PER_WEEK) {
      throw new RangeError(`hourOfWeek must be an integer 0..167, not ${hourOfWeek}`);
    }
    if (!(ewmaSeconds > 0) || !Number.isFinite(ewmaSeconds)) {
      throw new RangeError(`ewmaSeconds must be positive, not ${ewmaSeconds}`);
    }
    const s = this.state(storeId);
    s.slots ??= new Float32Array(HOURS_PER_WEEK).fill(Number.NaN);
    s.slots[hourOfWeek] = ewmaSeconds;
    const { alpha } = this.options;
    s.overall = Number.isNaN(s.overall) ? ewmaSeconds : s.overall + alpha * (ewmaSeconds - s.overall);
    this.options.onChange?.(storeId);
  }

  /**
   * The store's state at `atMs`: orders accepted within the TTL, and the EWMA for that hour of week in `timezone`,
   * else the nearest neighbouring hours', else the store's overall EWMA, else null.
   */
  get(storeId: string, atMs: number, timezone: string): StoreLiveState {
    const s = this.stores.get(storeId);
    if (!s) return { ordersInKitchen: 0, prepEwmaSeconds: null };
    const since = atMs - this.options.kitchenOrderTtlMs;
    let ordersInKitchen = 0;
    for (const acceptedAt of s.kitchen.values()) if (acceptedAt > since) ordersInKitchen++;
    const hourOfWeek = localTime(timezone, atMs).hourOfWeek;
    return { ordersInKitchen, prepEwmaSeconds: s.slots ? ewmaAt(s.slots, s.overall, hourOfWeek) : null };
  }

  /**
   * What `get` answers for the store at any order time, as one value a cache can hold: `liveAt` reads it. A copy:
   * later events do not change it.
   */
  snapshot(storeId: string): StoreLiveSnapshot {
    const s = this.stores.get(storeId);
    if (!s) return EMPTY_LIVE;
    const ttl = this.options.kitchenOrderTtlMs;
    return {
      kitchenUntilMs: Array.from(s.kitchen.values(), (acceptedAt) => acceptedAt + ttl),
      prepEwmaSlots: s.slots ? s.slots.slice() : null,
      prepEwmaOverall: Number.isNaN(s.overall) ? null : s.overall,
    };
  }

  /**
   * Drops orders older than the TTL, and stores left with nothing. Returns how many orders expired. `get` stops
   * counting such an order by itself, with time alone; the sweep is when caches of the count hear of it.
   */
  sweep(nowMs: number): number {
    const since = nowMs - this.options.kitchenOrderTtlMs;
    let expired = 0;
    for (const [storeId, s] of this.stores) {
      const before = expired;
      for (const [orderId, acceptedAt] of s.kitchen) {
        if (acceptedAt <= since) {
          s.kitchen.delete(orderId);
          expired++;
        }
      }
      if (expired > before) this.options.onChange?.(storeId);
      if (s.kitchen.size === 0 && !s.slots) this.stores.delete(storeId);
    }
    return expired;
  }

  /**
   * Forgotten orders (the event log's forget journal) leave the kitchens: their ids are all the live state holds of
   * them. Prep-time EWMAs are aggregates and stay. Returns how many were dropped.
   */
  forgetOrders(orderIds: Iterable<string>): number {
    const ids = new Set(orderIds);
    let dropped = 0;
    if (ids.size === 0) return 0;
    for (const [storeId, s] of this.stores) {
      let here = 0;
      for (const id of ids) if (s.kitchen.delete(id)) here++;
      if (here > 0) this.options.onChange?.(storeId);
      dropped += here;
    }
    return dropped;
  }

  /** A deleted store's state goes with it. */
  forget(storeId: string): void {
    if (this.stores.delete(storeId)) this.options.onChange?.(storeId);
  }

  /** Stores with any state: for a gauge. */
  get size(): number {
    return this.stores.size;
  }
}
