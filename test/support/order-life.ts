/**
 * One order's events on the orders' event clock (orders.eventClock): it lives tomorrow from 18:00 UTC, 19:00 in
 * Paris in winter, so the simulated city's stores are open and the models know the hour whenever the test runs.
 */
export function orderLife(orderId: string, storeId = 's-0001') {
  const d = new Date(Date.now() + 86_400_000);
  d.setUTCHours(18, 0, 0, 0);
  const t0 = d.getTime();
  const at = (minutes: number): string => new Date(t0 + minutes * 60_000).toISOString();
  const step = (type: string, minutes: number, extra: Record<string, unknown> = {}) => ({
    event_id: `${orderId}-${type}`,
    type,
    occurred_at: at(minutes),
    order_id: orderId,
    store_id: storeId,
    ...extra,
  });
  /** Checkout at `minutes`, a half-hour quote, the arrival promised at `promisedAtMinutes`. */
  const created = (minutes: number, promisedAtMinutes: number, extra: Record<string, unknown> = {}) =>
    step('order.created', minutes, {
      destination: { lat: 48.864, lng: 2.352 },
      items: 2,
      subtotal: 31.5,
      quoted_eta_seconds: 1800,
      quoted_range_seconds: [1400, 2400],
      promised_at: at(promisedAtMinutes),
      model_version: 'v1',
      ...extra,
    });
  return { at, step, created };
}
