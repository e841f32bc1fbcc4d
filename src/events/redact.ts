import type { EtaEvent, ForgetRequest, ForgetResult } from './types.js';

/**
 * Personal data in events: who ordered (`customer_id`), where they live (`destination`), and where a rider was
 * (`rider_id` with `lat`/`lng`). Forgetting keeps each record's envelope (event_id, so replays stay deduplicated;
 * type and time, so counts and offsets stay right) and what is about the business (store, quoted and actual times),
 * and drops the rest.
 */
export interface ForgetScope {
  orderIds: Set<string>;
  riderIds: Set<string>;
  customerIds: Set<string>;
}

export function scopeOf(request: ForgetRequest): ForgetScope {
  return {
    orderIds: new Set('orderIds' in request ? request.orderIds : []),
    riderIds: new Set('riderId' in request ? [request.riderId] : []),
    customerIds: new Set('customerId' in request ? [request.customerId] : []),
  };
}

/** First pass for a customer: their orders, so the lifecycle events that do not name the customer go too. */
export function collectOrders(event: EtaEvent, scope: ForgetScope): void {
  if (
    event.type === 'order.created' &&
    typeof event.customer_id === 'string' &&
    scope.customerIds.has(event.customer_id)
  ) {
    scope.orderIds.add(event.order_id as string);
  }
}

const ENVELOPE = ['event_id', 'type', 'occurred_at', 'schema_version'];

/** The event without the scope's personal data, or undefined when it holds none of it. */
export function redact(event: EtaEvent, scope: ForgetScope): EtaEvent | undefined {
  if (event.forgotten === true) return undefined;
  const drop = new Set<string>();
  const isOrder = typeof event.order_id === 'string' && scope.orderIds.has(event.order_id);
  const isCustomer = typeof event.customer_id === 'string' && scope.customerIds.has(event.customer_id);
  const isRider = typeof event.rider_id === 'string' && scope.riderIds.has(event.rider_id);
  if (isOrder || isCustomer) for (const f of ['customer_id', 'destination', 'rider_id']) drop.add(f);
  if (isRider) drop.add('rider_id');
  if (isRider && event.type === 'rider.location') for (const f of ['lat', 'lng', 'available']) drop.add(f);
  // An app event of a forgotten customer is behaviour of that person: only its envelope stays.
  if (isCustomer && event.type.startsWith('app.'))
    for (const f of Object.keys(event)) if (!ENVELOPE.includes(f)) drop.add(f);
  if (drop.size === 0) return undefined;
  const out: EtaEvent = { event_id: event.event_id, type: event.type, occurred_at: event.occurred_at };
  for (const [k, v] of Object.entries(event)) if (!drop.has(k) && !(k in out)) out[k] = v;
  out.forgotten = true;
  return out;
}

/**
 * The redacted JSON padded with spaces to the original's length, so the record is rewritten in place and every
 * offset after it stays valid. Falls back to the bare envelope if the redacted form were ever longer.
 */
export function sameLengthJson(original: Buffer, redacted: EtaEvent): Buffer {
  let json = Buffer.from(JSON.stringify(redacted));
  if (json.length > original.length) {
    const { event_id, type, occurred_at } = redacted;
    json = Buffer.from(JSON.stringify({ event_id, type, occurred_at, forgotten: true }));
  }
  if (json.length > original.length) throw new Error(`cannot redact ${redacted.event_id} in place`);
  const out = Buffer.alloc(original.length, 0x20);
  json.copy(out);
  return out;
}

/** What every backend answers after forgetting: how many records it rewrote, and whom it covered. */
export function forgetResult(redacted: number, scope: ForgetScope): ForgetResult {
  return {
    redacted,
    orderIds: [...scope.orderIds],
    riderIds: [...scope.riderIds],
    customerIds: [...scope.customerIds],
  };
}
