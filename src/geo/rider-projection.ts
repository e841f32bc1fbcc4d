import { followForgets, type EventLog, type LogRecord, type Subscription } from '../events/index.js';
import type { Logger } from '../platform/index.js';
import type { RiderSupply } from './rider-supply.js';

export interface RiderProjectionOptions {
  /** Positions older than the rider TTL do not count, so the replay at start needs little of the log. */
  replayMinutes: number;
  pollMs: number;
  logger: Logger;
}

/** `rider.location` events into rider supply per zone; a ping without `available` counts as available. */
export function applyToRiderSupply(supply: RiderSupply, records: readonly LogRecord[]): void {
  for (const { event } of records) {
    if (event.type !== 'rider.location') continue;
    const { rider_id: riderId, lat, lng } = event;
    if (typeof riderId !== 'string' || typeof lat !== 'number' || typeof lng !== 'number') continue;
    supply.recordRiderLocation(riderId, lat, lng, Date.parse(event.occurred_at), event.available !== false);
  }
}

/**
 * The geo module's projection of the event log (consumer group `geo-riders`), and its follower of the forget
 * journal: a forgotten rider's position and id leave rider supply in every geo process, wherever the forget ran.
 * The follower starts first, so a forget during the replay is either in the log the replay reads or delivered
 * afterwards.
 */
export async function startRiderProjection(
  log: EventLog,
  supply: RiderSupply,
  options: RiderProjectionOptions,
): Promise<Subscription> {
  const forgets = await followForgets(
    log.forgets,
    (entries) => {
      const dropped = supply.forgetRiders(entries.flatMap((e) => e.riderIds));
      if (dropped > 0) options.logger.info({ dropped }, 'rider projection: forgotten riders dropped');
    },
    {
      pollMs: options.pollMs,
      onError: (e) => options.logger.warn({ err: e }, 'rider projection: forget journal read failed'),
    },
  );
  const subscription = log.subscribe('geo-riders', (records) => applyToRiderSupply(supply, records), {
    start: { sinceMs: Date.now() - options.replayMinutes * 60_000 },
    ignoreCommitted: true,
    pollMs: options.pollMs,
    maxBatch: 5000,
    onError: (e) => options.logger.warn({ err: e }, 'rider projection: a batch failed; retrying'),
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
