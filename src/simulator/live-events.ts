import { localTime, type LatLng } from '../features/index.js';
import { offsetKm, type City } from './city.js';
import type { LiveEtaRequest } from './live.js';
import { Rng } from './prng.js';
import { trueAcceptSeconds, trueDropoffSeconds, truePrepSeconds, trueRideSeconds } from './truth.js';

/** What the gateway quoted for a checkout: the fields of its `/v1/eta` answer that `order.created` carries. */
export interface QuotedEta {
  eta_seconds: number;
  range_seconds: [number, number];
  promised_at: string;
  model_version: string;
}

/** An event as `POST /v1/events` takes it (the events module's shape, which the simulator may not import). */
export type SimEvent = { event_id: string; type: string; occurred_at: string } & Record<string, unknown>;

export interface LiveEventsOptions {
  /** Share of answered ETA requests that become orders (checkout conversion). */
  orderShare?: number;
  /**
   * Simulated durations run this many times faster than the wall clock, so a 30-minute delivery is reported three
   * minutes later at 10. Each event's `occurred_at` is the true (uncompressed) time, so the durations the
   * projections see are real ones, and an event may carry a time slightly in the future.
   */
  timeCompression?: number;
  riders?: number;
  riderPingSeconds?: number;
  seed?: number;
  now?: () => number;
}

interface Scheduled {
  dueMs: number;
  event: SimEvent;
}

/**
 * The simulated city's order lifecycle as events: an order for some of the ETAs quoted, then accepted, ready,
 * picked up and delivered (or cancelled) at the times the city's hidden rules (`truth.ts`) give, and rider
 * positions. Events are handed to `send` in batches, as an app backend would post them.
 */
export class LiveEvents {
  private readonly rng: Rng;
  private readonly queue: Scheduled[] = [];
  /** Per store: when each order cooking leaves the kitchen, for the kitchen load of the truth functions. */
  private readonly kitchens = new Map<string, number[]>();
  private readonly riders: Array<{ id: string; at: LatLng; busyUntilMs: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private lastPingMs = 0;
  private readonly compression: number;
  private readonly now: () => number;
  readonly stats = { orders: 0, events: 0, failedBatches: 0 };

  constructor(
    private readonly city: City,
    private readonly send: (events: SimEvent[]) => Promise<void>,
    private readonly options: LiveEventsOptions = {},
  ) {
    this.rng = new Rng(options.seed ?? Date.now() & 0x7fffffff);
    this.compression = Math.max(1, options.timeCompression ?? 10);
    this.now = options.now ?? Date.now;
    for (let i = 0; i < (options.riders ?? 60); i++) {
      const at = offsetKm(city.center, this.rng.uniform(-4, 4), this.rng.uniform(-4, 4));
      this.riders.push({ id: `live-r-${String(i + 1).padStart(3, '0')}`, at, busyUntilMs: 0 });
    }
  }

  start(flushMs = 500): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private id(): string {
    return `sim-${this.now().toString(36)}-${(this.seq++).toString(36)}`;
  }

  /** Called with each answered ETA request; some become orders. */
  quoted(req: LiveEtaRequest, quote: QuotedEta): void {
    if (!this.rng.chance(this.options.orderShare ?? 0.3)) return;
    const store = this.city.stores.findIndex((s) => s.storeId === req.storeId);
    if (store < 0) return;
    const s = this.city.stores[store]!;
    const created = this.now();
    const t = localTime(this.city.timezone, created);
    const hour = t.minuteOfDay / 60;
    const weekend = t.weekday >= 5;
    const kitchen = (this.kitchens.get(s.storeId) ?? []).filter((leavesAt) => leavesAt > created);
    this.kitchens.set(s.storeId, kitchen);
    const load = kitchen.length;
    const orderId = `live-${this.id()}`;
    const base = { order_id: orderId, store_id: s.storeId };
    this.stats.orders++;
    this.at(created, 'order.created', {
      ...base,
      destination: req.destination,
      items: Math.max(1, req.items),
      subtotal: req.subtotal,
      quoted_eta_seconds: quote.eta_seconds,
      quoted_range_seconds: quote.range_seconds,
      promised_at: quote.promised_at,
      model_version: quote.model_version,
    });
    const accepted = created + trueAcceptSeconds(load, this.rng) * 1000;
    const prep = truePrepSeconds(
      this.city.basePrepSeconds[store]!,
      load,
      this.city.kitchenCapacity[store]!,
      hour,
      req.items,
      this.rng,
    );
    const ready = accepted + prep * 1000;
    this.at(accepted, 'order.accepted', base);
    if (this.rng.chance(0.02)) {
      this.at(accepted + this.rng.uniform(30, 300) * 1000, 'order.cancelled', {
        ...base,
        reason: 'customer',
      });
      return;
    }
    if (kitchen.length < 400) kitchen.push(ready);
    const rider = this.pickRider(s.location, accepted);
    this.at(accepted, 'order.rider_assigned', { ...base, rider_id: rider.id });
    const toStore = trueRideSeconds(this.city, rider.at, s.location, hour, weekend, this.rng) * 1000;
    const pickedUp =
      Math.max(ready, Math.max(accepted, rider.busyUntilMs) + toStore) + this.rng.uniform(20, 90) * 1000;
    const ride =
      trueRideSeconds(this.city, s.location, req.destination, hour, weekend, this.rng) +
      trueDropoffSeconds(this.rng);
    const delivered = pickedUp + ride * 1000;
    rider.busyUntilMs = delivered;
    rider.at = req.destination;
    this.at(ready, 'order.ready', base);
    this.at(pickedUp, 'order.picked_up', { ...base, rider_id: rider.id });
    this.at(delivered, 'order.delivered', { ...base, rider_id: rider.id });
  }

  private pickRider(store: LatLng, atMs: number): { id: string; at: LatLng; busyUntilMs: number } {
    let best = this.riders[0]!;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const r of this.riders) {
      const score =
        Math.max(0, r.busyUntilMs - atMs) / 1000 +
        Math.hypot(r.at.lat - store.lat, r.at.lng - store.lng) * 20_000;
      if (score < bestScore) {
        bestScore = score;
        best = r;
      }
    }
    return best;
  }

  /** Schedules an event at true time `trueMs`; it is sent when the compressed clock gets there. */
  private at(trueMs: number, type: string, fields: Record<string, unknown>): void {
    const start = this.now();
    const dueMs = start + Math.max(0, trueMs - start) / this.compression;
    const event = {
      event_id: this.id(),
      type,
      occurred_at: new Date(Math.round(trueMs)).toISOString(),
      ...fields,
    };
    this.queue.push({ dueMs, event });
  }

  private pings(nowMs: number): SimEvent[] {
    const every = (this.options.riderPingSeconds ?? 15) * 1000;
    if (nowMs - this.lastPingMs < every) return [];
    this.lastPingMs = nowMs;
    return this.riders.map((r) => ({
      event_id: this.id(),
      type: 'rider.location',
      occurred_at: new Date(nowMs).toISOString(),
      rider_id: r.id,
      lat: Math.round(r.at.lat * 1e6) / 1e6,
      lng: Math.round(r.at.lng * 1e6) / 1e6,
      available: r.busyUntilMs <= nowMs,
    }));
  }

  /** Sends what is due; a failed batch is retried with the next flush (the log deduplicates by event_id). */
  async flush(): Promise<void> {
    const now = this.now();
    this.queue.sort((a, b) => a.dueMs - b.dueMs);
    let n = 0;
    while (n < this.queue.length && this.queue[n]!.dueMs <= now) n++;
    const due = this.queue.slice(0, n);
    const batch = [...due.map((d) => d.event), ...this.pings(now)];
    if (batch.length === 0) return;
    this.queue.splice(0, n);
    try {
      await this.send(batch);
      this.stats.events += batch.length;
    } catch {
      this.stats.failedBatches++;
      this.queue.unshift(...due);
    }
  }
}
