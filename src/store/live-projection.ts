import type { EventLog, LogRecord, Subscription } from '../events/index.js';
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

/** The store module's projection of the event log (consumer group `store-live`). */
export function startLiveProjection(
  log: EventLog,
  live: LiveState,
  options: LiveProjectionOptions,
): Subscription {
  return log.subscribe('store-live', (records) => applyToLiveState(live, records), {
    start: { sinceMs: Date.now() - options.replayHours * 3_600_000 },
    ignoreCommitted: true,
    pollMs: options.pollMs,
    onError: (e) => options.logger.warn({ err: e }, 'store live projection: a batch failed; retrying'),
  });
}
