import type { SimulatedHistory } from './history.js';
import type { SimEvent } from './live-events.js';

const iso = (ms: number): string => new Date(ms).toISOString();

const STEPS: ReadonlyArray<
  [
    type: string,
    at: 'acceptedAtMs' | 'readyAtMs' | 'pickedUpAtMs' | 'deliveredAtMs' | 'cancelledAtMs',
    withRider: boolean,
  ]
> = [
  ['order.accepted', 'acceptedAtMs', false],
  ['order.ready', 'readyAtMs', false],
  ['order.picked_up', 'pickedUpAtMs', true],
  ['order.delivered', 'deliveredAtMs', true],
  ['order.cancelled', 'cancelledAtMs', false],
];

/**
 * A simulated history as the events a delivery platform sends to `POST /v1/events`: every order's lifecycle
 * (`order.created` with its destination and quote, then each step it reached) and the riders' positions
 * (`rider.location`), pings interleaved by time with the orders' creation. Event ids are stable, so sending the
 * same history twice is a replay. Lazy: a year of history is never all in memory as objects.
 */
export function* historyApiEvents(
  history: SimulatedHistory,
  options: { customers?: number } = {},
): Generator<SimEvent> {
  // The history has no customers: with `customers`, order i belongs to customer `c-<k>`, k spread by a
  // multiplicative hash so that one customer's orders fall across the day.
  const customers = options.customers;
  const customerOf = (i: number): string => `c-${(Math.imul(i + 1, 2654435761) >>> 0) % customers!}`;
  const O = history.orders;
  const P = history.riderPings;
  const ping = (k: number): SimEvent => ({
    event_id: `ping:${k}:${P.atMs[k]}`,
    type: 'rider.location',
    occurred_at: iso(P.atMs[k]!),
    rider_id: P.riderIds[P.rider[k]!]!,
    lat: P.lat[k]!,
    lng: P.lng[k]!,
    available: P.available[k] === 1,
  });
  let p = 0;
  for (let i = 0; i < O.length; i++) {
    const created = O.createdAtMs[i]!;
    for (; p < P.count && P.atMs[p]! < created; p++) yield ping(p);
    const id = O.orderId(i);
    const store = O.storeId(i);
    const rider = O.rider[i]! >= 0 ? O.riderIds[O.rider[i]!]! : undefined;
    yield {
      event_id: `${id}:created`,
      type: 'order.created',
      occurred_at: iso(created),
      order_id: id,
      store_id: store,
      ...(customers ? { customer_id: customerOf(i) } : {}),
      destination: { lat: O.destLat[i]!, lng: O.destLng[i]! },
      items: O.items[i]!,
      subtotal: O.subtotal[i]!,
      quoted_eta_seconds: 1800,
      quoted_range_seconds: [1400, 2400],
      promised_at: iso(created + 1_800_000),
      model_version: 'simulated',
    };
    for (const [type, column, withRider] of STEPS) {
      const at = O[column][i]!;
      if (Number.isNaN(at)) continue;
      yield {
        event_id: `${id}:${type.slice('order.'.length)}`,
        type,
        occurred_at: iso(at),
        order_id: id,
        store_id: store,
        ...(withRider && rider !== undefined ? { rider_id: rider } : {}),
      };
    }
  }
  for (; p < P.count; p++) yield ping(p);
}
