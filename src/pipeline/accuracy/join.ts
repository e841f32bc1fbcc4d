import { latLngToCell } from 'h3-js';
import type { LogRecord } from '../../events/index.js';
import type { ShadowSummary } from '../promotion/policy.js';
import { ShadowJoin, type ShadowObservation, type ShadowPairs, type ShadowStats } from './shadow.js';
import { SHADOW_EVENT } from '../etl/history-events.js';
import type { ShadowQuote } from './shadow-match.js';

/**
 * The join of what was quoted with what happened: `order.created` carries the quoted ETA, range, promise and model
 * version; `order.delivered` the truth. Each delivered order becomes one observation, aggregated per model version,
 * per hour of creation and per zone (H3 res 7 of the destination), and kept for a recent window for the gauges.
 * `app.shadow_prediction` events add the answer of the model that did not serve (shadow.ts): both answers of a
 * shadowed order are scored against its delivery, per pair of versions.
 */
export interface Observation {
  orderId: string;
  modelVersion: string;
  /** Delivery time of the order, ms since epoch (by occurred_at). */
  deliveredAtMs: number;
  /** Hour of creation, UTC, `2026-01-05T12`. */
  hour: string;
  zone: string;
  actualSeconds: number;
  /** quoted − actual: positive means the ETA was too long. */
  errorSeconds: number;
  covered: boolean;
  onTime: boolean;
}

export interface AccuracyStats {
  deliveries: number;
  mae_seconds: number | null;
  bias_seconds: number | null;
  coverage_ratio: number | null;
  on_time_ratio: number | null;
}

class Aggregate {
  n = 0;
  absSum = 0;
  sum = 0;
  covered = 0;
  onTime = 0;

  add(o: Observation): void {
    this.n++;
    this.absSum += Math.abs(o.errorSeconds);
    this.sum += o.errorSeconds;
    if (o.covered) this.covered++;
    if (o.onTime) this.onTime++;
  }

  stats(): AccuracyStats {
    const n = this.n;
    const r = (v: number, d = 1): number => Math.round(v * d) / d;
    return {
      deliveries: n,
      mae_seconds: n ? r(this.absSum / n, 10) : null,
      bias_seconds: n ? r(this.sum / n, 10) : null,
      coverage_ratio: n ? r(this.covered / n, 1e4) : null,
      on_time_ratio: n ? r(this.onTime / n, 1e4) : null,
    };
  }
}

interface Quote {
  createdAtMs: number;
  quoted: number;
  low: number;
  high: number;
  promisedAtMs: number;
  modelVersion: string;
  zone: string;
  /** Both models' answers, when the request that became this order was shadowed. */
  shadow?: ShadowQuote;
}

export interface AccuracyJoinOptions {
  windowMs: number;
  /** An order not delivered within this is dropped from the pending side (lost events). */
  pendingTtlMs?: number;
  maxPending?: number;
  zoneResolution?: number;
  now?: () => number;
}

export interface AccuracySummary {
  window_minutes: number;
  generated_at: string;
  /** Everything joined since the projection started (it replays events.projectionReplayHours of the log). */
  overall: AccuracyStats;
  /** Only deliveries within the window: what the prom gauges show. */
  window: AccuracyStats;
  by_model_version: Array<{ model_version: string } & AccuracyStats & { window: AccuracyStats }>;
  by_hour: Array<{ hour: string } & AccuracyStats>;
  by_zone: Array<{ zone: string } & AccuracyStats>;
  pending_orders: number;
  unmatched_deliveries: number;
  /** The window's latest deliveries, quoted against actual: the console's predicted-versus-actual chart. */
  pairs: Array<{ predicted_s: number; actual_s: number; model_version: string }>;
  /** Shadowed orders: each model's accuracy where it and `compared_with` both answered (one served, one shadow). */
  shadow_by_model_version: Array<
    { model_version: string; compared_with: string } & ShadowStats & { window: ShadowStats }
  >;
  /** Shadow predictions waiting for the order they became. */
  shadow_quotes_pending: number;
}

const MAX_HOURS = 48;
const MAX_PAIRS = 500;
const MAX_ZONES = 50;

export class AccuracyJoin {
  private readonly pending = new Map<string, Quote>();
  private readonly overall = new Aggregate();
  private readonly byVersion = new Map<string, Aggregate>();
  private readonly byHour = new Map<string, Aggregate>();
  private readonly byZone = new Map<string, Aggregate>();
  /** Recent observations, oldest first, for the windowed gauges. */
  private recent: Observation[] = [];
  unmatched = 0;
  private readonly listeners: Array<(o: Observation) => void> = [];
  private readonly shadow: ShadowJoin;

  constructor(private readonly options: AccuracyJoinOptions) {
    this.shadow = new ShadowJoin(options.maxPending ?? 200_000, (orderId, quote) => {
      const q = this.pending.get(orderId);
      if (!q || q.shadow) return false;
      q.shadow = quote;
      return true;
    });
  }

  onObservation(listener: (o: Observation) => void): void {
    this.listeners.push(listener);
  }

  onShadowObservation(listener: (o: ShadowObservation) => void): void {
    this.shadow.onObservation(listener);
  }

  apply(records: readonly LogRecord[]): void {
    for (const { event } of records) {
      if (event.type === SHADOW_EVENT) {
        this.shadow.predicted(event);
        continue;
      }
      const orderId = event.order_id;
      if (typeof orderId !== 'string') continue;
      if (event.type === 'order.created') this.created(orderId, event as unknown as CreatedFields);
      else if (event.type === 'order.delivered') this.delivered(orderId, Date.parse(event.occurred_at));
      else if (event.type === 'order.cancelled') this.pending.delete(orderId);
    }
    this.shadow.expire();
  }

  private created(orderId: string, e: CreatedFields): void {
    if (this.pending.has(orderId)) return;
    const max = this.options.maxPending ?? 200_000;
    if (this.pending.size >= max) this.pending.delete(this.pending.keys().next().value!);
    const createdAtMs = Date.parse(e.occurred_at);
    const zone = e.destination
      ? latLngToCell(e.destination.lat, e.destination.lng, this.options.zoneResolution ?? 7)
      : 'unknown';
    const shadow = this.shadow.created(orderId, e.store_id, e.destination, createdAtMs);
    this.pending.set(orderId, {
      ...(shadow ? { shadow } : {}),
      createdAtMs,
      quoted: e.quoted_eta_seconds,
      low: e.quoted_range_seconds[0],
      high: e.quoted_range_seconds[1],
      promisedAtMs: Date.parse(e.promised_at),
      modelVersion: e.model_version,
      zone,
    });
  }

  private delivered(orderId: string, atMs: number): void {
    const q = this.pending.get(orderId);
    if (!q) {
      this.unmatched++;
      return;
    }
    this.pending.delete(orderId);
    const actualSeconds = (atMs - q.createdAtMs) / 1000;
    if (!(actualSeconds > 0)) return;
    const o: Observation = {
      orderId,
      modelVersion: q.modelVersion,
      deliveredAtMs: atMs,
      hour: new Date(q.createdAtMs).toISOString().slice(0, 13),
      zone: q.zone,
      actualSeconds,
      errorSeconds: q.quoted - actualSeconds,
      covered: actualSeconds >= q.low && actualSeconds <= q.high,
      onTime: atMs <= q.promisedAtMs,
    };
    this.overall.add(o);
    aggregate(this.byVersion, o.modelVersion).add(o);
    aggregate(this.byHour, o.hour).add(o);
    aggregate(this.byZone, o.zone).add(o);
    this.recent.push(o);
    for (const l of this.listeners) l(o);
    if (q.shadow) this.shadow.delivered(q.shadow, actualSeconds, atMs);
    if (this.byHour.size > MAX_HOURS) this.byHour.delete([...this.byHour.keys()].sort()[0]!);
  }

  /**
   * Forgotten orders (the event log's forget journal): their pending quotes (with the destination's zone) and
   * recent observations go. Aggregates stay: they hold no order. Returns how many orders were held.
   */
  forgetOrders(orderIds: Iterable<string>): number {
    const ids = new Set(orderIds);
    if (ids.size === 0) return 0;
    let dropped = 0;
    for (const id of ids) if (this.pending.delete(id)) dropped++;
    const before = this.recent.length;
    this.recent = this.recent.filter((o) => !ids.has(o.orderId));
    this.shadow.forgetOrders(ids);
    return dropped + before - this.recent.length;
  }

  /** Drops observations older than the window and quotes older than the pending TTL. */
  private trim(nowMs: number): void {
    const since = nowMs - this.options.windowMs;
    let i = 0;
    while (i < this.recent.length && this.recent[i]!.deliveredAtMs < since) i++;
    if (i > 0) this.recent = this.recent.slice(i);
    this.shadow.trim(since);
    const ttl = this.options.pendingTtlMs ?? 6 * 3_600_000;
    for (const [id, q] of this.pending) {
      if (nowMs - q.createdAtMs <= ttl) break;
      this.pending.delete(id);
    }
  }

  /** Windowed stats per model version: what the gauges export. */
  windowByVersion(nowMs = (this.options.now ?? Date.now)()): Map<string, AccuracyStats> {
    this.trim(nowMs);
    const by = new Map<string, Aggregate>();
    for (const o of this.recent) aggregate(by, o.modelVersion).add(o);
    return new Map([...by].map(([v, a]) => [v, a.stats()]));
  }

  /** Windowed stats per pair of shadowed versions: what the shadow gauges export. */
  windowShadow(nowMs = (this.options.now ?? Date.now)()): ShadowPairs {
    this.trim(nowMs);
    return this.shadow.windowPairs();
  }

  /** The champion and the challenger on the same shadowed orders: what the promotion policy's shadow rule reads. */
  shadowComparison(champion: string | undefined, challenger: string | undefined): ShadowSummary | undefined {
    return this.shadow.comparison(champion, challenger);
  }

  summary(nowMs = (this.options.now ?? Date.now)()): AccuracySummary {
    const windowed = this.windowByVersion(nowMs);
    const all = new Aggregate();
    for (const o of this.recent) all.add(o);
    const empty = new Aggregate().stats();
    return {
      window_minutes: this.options.windowMs / 60_000,
      generated_at: new Date(nowMs).toISOString(),
      overall: this.overall.stats(),
      window: all.stats(),
      by_model_version: [...this.byVersion].map(([model_version, a]) => ({
        model_version,
        ...a.stats(),
        window: windowed.get(model_version) ?? empty,
      })),
      by_hour: [...this.byHour]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([hour, a]) => ({ hour, ...a.stats() })),
      by_zone: [...this.byZone]
        .sort(([, a], [, b]) => b.n - a.n)
        .slice(0, MAX_ZONES)
        .map(([zone, a]) => ({ zone, ...a.stats() })),
      pending_orders: this.pending.size,
      unmatched_deliveries: this.unmatched,
      pairs: this.recent.slice(-MAX_PAIRS).map((o) => ({
        predicted_s: o.actualSeconds + o.errorSeconds,
        actual_s: o.actualSeconds,
        model_version: o.modelVersion,
      })),
      shadow_by_model_version: this.shadow.entries(this.shadow.windowPairs()),
      shadow_quotes_pending: this.shadow.pendingQuotes,
    };
  }
}

interface CreatedFields {
  occurred_at: string;
  store_id?: string;
  quoted_eta_seconds: number;
  quoted_range_seconds: [number, number];
  promised_at: string;
  model_version: string;
  destination?: { lat: number; lng: number };
}

function aggregate(map: Map<string, Aggregate>, key: string): Aggregate {
  let a = map.get(key);
  if (!a) map.set(key, (a = new Aggregate()));
  return a;
}
