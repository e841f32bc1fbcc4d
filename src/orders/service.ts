import type { EtaEvent, LogRecord } from '../events/index.js';
import type { Logger } from '../platform/index.js';
import type { LatLng } from '../features/index.js';
import { isFinal, type OrderBook, type OrderEvent, type OrderLife, type Quote } from './book.js';
import {
  orderPosition,
  type ActiveOrder,
  type CheckoutContext,
  type LiveEta,
  type LiveEtaTracker,
} from './live-eta.js';

export interface OrdersServiceDeps {
  book: OrderBook;
  tracker: LiveEtaTracker;
  /** What the checkout knew of an order (store features, the trip): asked once per order, when first seen. */
  checkout: (order: OrderLife) => Promise<CheckoutContext | undefined>;
  /** Where `order.late_risk` events go (the event log); absent: not written, only counted. */
  emit?: (events: EtaEvent[]) => Promise<void>;
  lateRisk: { threshold: number; hysteresis: number };
  logger: Logger;
  /** Seconds from an event's arrival in the log to its order's new ETA (`etaserve_order_update_delay_seconds`). */
  updateDelay?: { observe(seconds: number): void };
  now?: () => number;
  /**
   * Time follows the events when they run ahead of the wall clock (the demo's compressed city, whose events carry
   * their true, later times). Off in production: one sender's skewed clock would move every order.
   */
  eventClock?: boolean;
}

type Listener = (eta: LiveEta) => void;

/** Per order: how many late-risk alerts went out, and whether P(late) fell back enough to alert again. */
interface Alerts {
  sent: number;
  armed: boolean;
}

/**
 * Every order's live ETA, from the log: applies events to the book, recomputes the orders they touched, pushes the
 * new answer to the order's watchers and writes `order.late_risk` when P(late) crosses the threshold. Alerts have
 * deterministic ids (`late-risk:<order>:<n>`) and the projection reads them back, so a restart never alerts twice.
 */
export class OrdersService {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly alerts = new Map<string, Alerts>();
  private readonly checkouts = new Map<string, CheckoutContext>();
  private readonly latest = new Map<string, LiveEta>();
  private readonly wallClock: () => number;
  private latestEventMs = 0;
  /** Alerts wait for the replay to catch up with the log: the past is not news. */
  private live = false;

  constructor(private readonly deps: OrdersServiceDeps) {
    this.wallClock = deps.now ?? Date.now;
  }

  private now(): number {
    const wall = this.wallClock();
    return this.deps.eventClock ? Math.max(wall, this.latestEventMs) : wall;
  }

  /** After the start's replay: from now on crossings alert. */
  goLive(): void {
    this.live = true;
    this.refresh();
  }

  async apply(records: readonly LogRecord[]): Promise<void> {
    const changed = new Set<string>();
    const arrivals: number[] = [];
    for (const { event, ingestedAtMs } of records) {
      if (event.forgotten === true) continue;
      if (event.type === 'order.late_risk') {
        this.noteAlert(event);
        continue;
      }
      const parsed = parse(event);
      if (!parsed) continue;
      if (parsed.occurredAtMs > this.latestEventMs) this.latestEventMs = parsed.occurredAtMs;
      const touched = this.deps.book.apply(parsed);
      for (const id of touched) changed.add(id);
      if (touched.length > 0) arrivals.push(ingestedAtMs);
    }
    if (changed.size === 0) return;
    const nowMs = this.now();
    // A late backfill of orders long past is history, not news: dropped at once, so it never alerts.
    const expired = [...changed].filter((id) => this.deps.book.expired(this.deps.book.get(id)!, nowMs));
    if (expired.length > 0) this.forget(expired);
    for (const id of expired) changed.delete(id);
    await this.loadCheckouts([...changed]);
    for (const id of changed) this.recompute(id, nowMs);
    const delay = this.deps.updateDelay;
    if (this.live && delay) {
      const doneMs = Date.now();
      for (const at of arrivals) delay.observe(Math.max(0, doneMs - at) / 1000);
    }
  }

  /** The order's live ETA now; undefined when the order is unknown. */
  async eta(orderId: string): Promise<LiveEta | undefined> {
    if (!this.deps.book.get(orderId)) return undefined;
    await this.loadCheckouts([orderId]);
    return this.recompute(orderId, this.now());
  }

  /** Calls `listener` with every new answer for the order; returns the unsubscribe. */
  subscribe(orderId: string, listener: Listener): () => void {
    let set = this.listeners.get(orderId);
    if (!set) this.listeners.set(orderId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(orderId);
    };
  }

  /** Time passes without events too: recomputes every active order (a stalled rider raises P(late)). */
  refresh(): void {
    const nowMs = this.now();
    for (const order of this.deps.book.active()) this.recompute(order.orderId, nowMs);
  }

  sweep(): void {
    const nowMs = this.now();
    this.deps.book.sweep(nowMs);
    for (const id of this.latest.keys()) if (!this.deps.book.get(id)) this.drop(id);
  }

  forget(orderIds: readonly string[]): number {
    const dropped = this.deps.book.forget(orderIds);
    for (const id of orderIds) this.drop(id);
    return dropped;
  }

  /** Active orders with their latest answers, riskiest first, each with its place on the map (the console's). */
  atRisk(limit: number): ActiveOrder[] {
    return [...this.latest.values()]
      .filter((eta) => !isFinal(eta.stage))
      .sort((a, b) => b.pLate - a.pLate)
      .slice(0, limit)
      .map((eta) => {
        const order = this.deps.book.get(eta.orderId);
        if (!order) return { ...eta, position: null, destination: null };
        const rider = this.deps.book.riderPosition(order.riderId);
        const position = orderPosition(order, rider, this.checkouts.get(eta.orderId));
        return { ...eta, position, destination: order.destination ?? null };
      });
  }

  get size(): number {
    return this.deps.book.size;
  }

  private drop(orderId: string): void {
    this.latest.delete(orderId);
    this.alerts.delete(orderId);
    this.checkouts.delete(orderId);
    this.deps.tracker.forget(orderId);
  }

  private recompute(orderId: string, nowMs: number): LiveEta | undefined {
    const order = this.deps.book.get(orderId);
    if (!order) return undefined;
    const eta = this.deps.tracker.update({
      order,
      rider: this.deps.book.riderPosition(order.riderId),
      checkout: this.checkouts.get(orderId),
      nowMs,
    });
    if (!eta) return undefined;
    const before = this.latest.get(orderId);
    this.latest.set(orderId, eta);
    if (before?.sequence !== eta.sequence)
      for (const listener of this.listeners.get(orderId) ?? []) listener(eta);
    this.checkLateRisk(eta);
    return eta;
  }

  private checkLateRisk(eta: LiveEta): void {
    const { threshold, hysteresis } = this.deps.lateRisk;
    const alerts = this.alerts.get(eta.orderId) ?? { sent: 0, armed: true };
    this.alerts.set(eta.orderId, alerts);
    if (eta.pLate < threshold - hysteresis) alerts.armed = true;
    if (!this.live || !alerts.armed || eta.pLate < threshold || isFinal(eta.stage) || !eta.promisedAtMs)
      return;
    alerts.armed = false;
    alerts.sent++;
    const event = lateRiskEvent(eta, alerts.sent, threshold);
    this.deps.emit?.([event]).catch((e: unknown) => {
      this.deps.logger.warn(
        { err: e, orderId: eta.orderId },
        'order.late_risk not written; it will be retried',
      );
      // Written later: the next recompute over the threshold sends the same id again.
      alerts.armed = true;
      alerts.sent--;
    });
  }

  private noteAlert(event: EtaEvent): void {
    const orderId = typeof event.order_id === 'string' ? event.order_id : undefined;
    const n = Number(/:(\d+)$/.exec(event.event_id)?.[1] ?? 0);
    if (!orderId || !(n > 0)) return;
    const alerts = this.alerts.get(orderId) ?? { sent: 0, armed: true };
    if (n >= alerts.sent) this.alerts.set(orderId, { sent: n, armed: false });
  }

  private async loadCheckouts(orderIds: string[]): Promise<void> {
    const wanted = orderIds
      .map((id) => this.deps.book.get(id))
      .filter(
        (o): o is OrderLife =>
          o !== undefined && o.destination !== undefined && !this.checkouts.has(o.orderId),
      );
    if (wanted.length === 0) return;
    await Promise.all(
      wanted.map(async (order) => {
        try {
          const context = await this.deps.checkout(order);
          if (context) this.checkouts.set(order.orderId, context);
        } catch (e) {
          this.deps.logger.warn(
            { err: e, orderId: order.orderId },
            'store or geo unavailable: asked again later',
          );
        }
      }),
    );
  }
}

/** The log's view of an order event, or undefined for events the book does not follow. */
function parse(event: EtaEvent): OrderEvent | undefined {
  const occurredAtMs = Date.parse(event.occurred_at);
  if (!Number.isFinite(occurredAtMs)) return undefined;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  if (event.type === 'rider.location') {
    const riderId = str(event.rider_id);
    const lat = Number(event.lat);
    const lng = Number(event.lng);
    if (!riderId || !Number.isFinite(lat) || !Number.isFinite(lng)) return undefined;
    return { type: event.type, occurredAtMs, riderId, position: { lat, lng } };
  }
  if (!event.type.startsWith('order.')) return undefined;
  const parsed: OrderEvent = { type: event.type, occurredAtMs };
  const orderId = str(event.order_id);
  const storeId = str(event.store_id);
  const riderId = str(event.rider_id);
  if (orderId) parsed.orderId = orderId;
  if (storeId) parsed.storeId = storeId;
  if (riderId) parsed.riderId = riderId;
  if (event.type === 'order.created') {
    const destination = event.destination as LatLng | undefined;
    if (destination) parsed.destination = { lat: destination.lat, lng: destination.lng };
    const quote = quoteOf(event);
    if (quote) parsed.quote = quote;
  }
  return parsed;
}

function quoteOf(event: EtaEvent): Quote | undefined {
  const range = event.quoted_range_seconds as [number, number] | undefined;
  const p50 = Number(event.quoted_eta_seconds);
  const promisedAtMs = Date.parse(String(event.promised_at));
  if (!range || !Number.isFinite(p50) || !Number.isFinite(promisedAtMs)) return undefined;
  return {
    p10Seconds: Math.min(range[0], p50),
    p50Seconds: p50,
    p90Seconds: Math.max(range[1], p50),
    promisedAtMs,
    modelVersion: String(event.model_version),
  };
}

function lateRiskEvent(eta: LiveEta, n: number, threshold: number): EtaEvent {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    event_id: `late-risk:${eta.orderId}:${n}`,
    type: 'order.late_risk',
    occurred_at: iso(eta.updatedAtMs),
    order_id: eta.orderId,
    store_id: eta.storeId,
    p_late: Math.round(eta.pLate * 1000) / 1000,
    threshold,
    promised_at: iso(eta.promisedAtMs!),
    eta_at: iso(eta.etaAtMs),
    stage: eta.stage,
  };
}
