import type { OrderHistory } from '../history.js';

/**
 * One event of the log, flattened to the lake's columns. The shape matches the event schema's fields (`order.*`
 * and `rider.location`), so a simulated history and the live log compact to the same Parquet.
 */
export interface FlatEvent {
  event_id: string;
  type: string;
  occurred_ms: number;
  order_id: string | null;
  store_id: string | null;
  rider_id: string | null;
  dest_lat: number | null;
  dest_lng: number | null;
  items: number | null;
  subtotal: number | null;
  quoted_eta_s: number | null;
  model_version: string | null;
  lat: number | null;
  lng: number | null;
  available: boolean | null;
  /** `app.shadow_prediction`: when the order was quoted, and both models' p50 (for the shadow join). */
  ordered_ms: number | null;
  served_version: string | null;
  served_p50: number | null;
  shadow_version: string | null;
  shadow_p50: number | null;
}

/** What the lake keeps of an event as sent to `POST /v1/events` (flat, `occurred_at` ISO 8601). */
export interface LogEvent {
  event_id: string;
  type: string;
  occurred_at: string;
  [field: string]: unknown;
}

const EMPTY: Omit<FlatEvent, 'event_id' | 'type' | 'occurred_ms'> = {
  order_id: null,
  store_id: null,
  rider_id: null,
  dest_lat: null,
  dest_lng: null,
  items: null,
  subtotal: null,
  quoted_eta_s: null,
  model_version: null,
  lat: null,
  lng: null,
  available: null,
  ordered_ms: null,
  served_version: null,
  served_p50: null,
  shadow_version: null,
  shadow_p50: null,
};

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export const SHADOW_EVENT = 'app.shadow_prediction';
/** A shadow prediction matches the `order.created` of its store and destination nearest in time, within this. */
export const SHADOW_MATCH_MS = 120_000;

/** An event of the log as a lake row; undefined for event types the lake does not keep (app behaviour). */
export function flattenEvent(e: LogEvent): FlatEvent | undefined {
  if (!e.type.startsWith('order.') && e.type !== 'rider.location' && e.type !== SHADOW_EVENT)
    return undefined;
  const occurred = Date.parse(e.occurred_at);
  if (!Number.isFinite(occurred)) return undefined;
  const dest = (e.destination ?? {}) as { lat?: unknown; lng?: unknown };
  const served = (e.served ?? {}) as { version?: unknown; p50?: unknown };
  const shadow = (e.shadow ?? {}) as { version?: unknown; p50?: unknown };
  return {
    event_id: e.event_id,
    type: e.type,
    occurred_ms: occurred,
    order_id: str(e.order_id),
    store_id: str(e.store_id),
    rider_id: str(e.rider_id),
    dest_lat: num(dest.lat),
    dest_lng: num(dest.lng),
    items: num(e.items),
    subtotal: num(e.subtotal),
    quoted_eta_s: num(e.quoted_eta_seconds),
    model_version: str(e.model_version),
    lat: num(e.lat),
    lng: num(e.lng),
    available: typeof e.available === 'boolean' ? e.available : null,
    ordered_ms: typeof e.ordered_at === 'string' ? num(Date.parse(e.ordered_at)) : null,
    served_version: str(served.version),
    served_p50: num(served.p50),
    shadow_version: str(shadow.version),
    shadow_p50: num(shadow.p50),
  };
}

/**
 * A history as the events the delivery platform would have sent: each order's lifecycle, and (optionally) every
 * rider ping. Event ids are deterministic, so compacting the same history twice deduplicates.
 */
export function historyToEvents(history: OrderHistory, options: { pings?: boolean } = {}): FlatEvent[] {
  const out: FlatEvent[] = [];
  for (const o of history.orders) {
    const base = { ...EMPTY, order_id: o.order_id, store_id: o.store_id };
    out.push({
      ...base,
      event_id: `${o.order_id}:created`,
      type: 'order.created',
      occurred_ms: o.created_at_ms,
      dest_lat: o.destination.lat,
      dest_lng: o.destination.lng,
      items: o.items,
      subtotal: o.subtotal,
      model_version: 'simulated',
    });
    const step = (type: string, at: number | null, rider = false): void => {
      if (at === null) return;
      out.push({
        ...base,
        rider_id: rider ? o.rider_id : null,
        event_id: `${o.order_id}:${type.slice(6)}`,
        type,
        occurred_ms: at,
      });
    };
    step('order.accepted', o.accepted_at_ms);
    step('order.ready', o.ready_at_ms);
    step('order.picked_up', o.picked_up_at_ms, true);
    step('order.delivered', o.delivered_at_ms, true);
    step('order.cancelled', o.cancelled_at_ms);
  }
  const pings = history.riderPings;
  if (options.pings !== false && pings) {
    for (let i = 0; i < pings.count; i++) {
      out.push({
        ...EMPTY,
        event_id: `ping:${i}:${pings.atMs[i]}`,
        type: 'rider.location',
        occurred_ms: pings.atMs[i]!,
        rider_id: pings.riderIds[pings.rider[i]!]!,
        lat: pings.lat[i]!,
        lng: pings.lng[i]!,
        available: pings.available[i] === 1,
      });
    }
  }
  return out;
}
