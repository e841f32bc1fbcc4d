import { startProjection, type EventLog, type LogRecord, type Subscription } from '../events/index.js';
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

/** The geo module's projection of the log: a forgotten rider leaves rider supply in every geo process. */
export async function startRiderProjection(
  log: EventLog,
  supply: RiderSupply,
  options: RiderProjectionOptions,
): Promise<Subscription> {
  return startProjection(log, {
    group: 'geo-riders',
    name: 'rider projection',
    replayFromMs: Date.now() - options.replayMinutes * 60_000,
    pollMs: options.pollMs,
    maxBatch: 5000,
    logger: options.logger,
    apply: (records) => applyToRiderSupply(supply, records),
    forget: (entries) => supply.forgetRiders(entries.flatMap((e) => e.riderIds)),
  });
}
