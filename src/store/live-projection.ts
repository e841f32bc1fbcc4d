import { followForgets, type EventLog, type LogRecord, type Subscription } from '../events/index.js';
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

/**
 * The store module's projection of the event log (consumer group `store-live`), and its follower of the forget
 * journal: a forgotten order leaves the kitchens in every store process, wherever the forget ran. The follower
 * starts first, so a forget during the replay is either in the log the replay reads or delivered afterwards.
 */
export async function startLiveProjection(
  log: EventLog,
  live: LiveState,
  options: LiveProjectionOptions,
): Promise<Subscription> {
  const forgets = await followForgets(
    log.forgets,
    (entries) => {
      const dropped = live.forgetOrders(entries.flatMap((e) => e.orderIds));
      if (dropped > 0) options.logger.info({ dropped }, 'store live projection: forgotten orders dropped');
    },
    {
      pollMs: options.pollMs,
      onError: (e) => options.logger.warn({ err: e }, 'store live projection: forget journal read failed'),
    },
  );
  const subscription = log.subscribe('store-live', (records) => applyToLiveState(live, records), {
    start: { sinceMs: Date.now() - options.replayHours * 3_600_000 },
    ignoreCommitted: true,
    pollMs: options.pollMs,
    onError: (e) => options.logger.warn({ err: e }, 'store live projection: a batch failed; retrying'),
  });
  return {
    group: subscription.group,
    caughtUp: () => subscription.caughtUp(),
    close: async () => {
      await subscription.close();
      await forgets.close();
    },
  };
}
