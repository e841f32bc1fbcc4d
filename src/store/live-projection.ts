import { startProjection, type EventLog, type LogRecord, type Subscription } from '../events/index.js';
import type { Logger } from '../platform/index.js';
import type { LiveState } from './live-state.js';

export interface LiveProjectionOptions {
  /** LiveState is in memory: at start it is rebuilt from this much of the log. */
  replayHours: number;
  pollMs: number;
  logger: Logger;
}

/** Applies order lifecycle events to the live state of stores: what is in each kitchen, and prep times. */
export function applyToLiveState(live: LiveState, records: readonly LogRecord[]): void {
  for (const { event } of records) {
    // A redacted record (file log) belongs to a forgotten order: the Redis log deleted its twin, so skip it too.
    if (event.forgotten === true) continue;
    const storeId = event.store_id;
    const orderId = event.order_id;
    if (typeof storeId !== 'string' || typeof orderId !== 'string') continue;
    const atMs = Date.parse(event.occurred_at);
    switch (event.type) {
      case 'order.accepted':
        live.orderAccepted(storeId, orderId, atMs);
        break;
      // A lost `ready` is covered by the pickup: the food left the kitchen by then at the latest.
      case 'order.ready':
      case 'order.picked_up':
        live.orderReady(storeId, orderId, atMs);
        break;
      case 'order.cancelled':
      case 'order.delivered':
        live.orderCancelled(storeId, orderId);
        break;
    }
  }
}

/** The store module's projection of the log: a forgotten order leaves the kitchens of every store process. */
export async function startLiveProjection(
  log: EventLog,
  live: LiveState,
  options: LiveProjectionOptions,
): Promise<Subscription> {
  return startProjection(log, {
    group: 'store-live',
    name: 'store live projection',
    replayFromMs: Date.now() - options.replayHours * 3_600_000,
    pollMs: options.pollMs,
    logger: options.logger,
    apply: (records) => applyToLiveState(live, records),
    forget: (entries) => live.forgetOrders(entries.flatMap((e) => e.orderIds)),
  });
}
