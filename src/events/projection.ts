import type { Logger } from '../platform/index.js';
import { followForgets } from './forget-journal.js';
import type { EventLog, ForgetEntry, LogRecord, Subscription } from './types.js';

export interface ProjectionOptions {
  /** The subscription's name (a group name, though an in-memory projection reads without a group). */
  group: string;
  /** What the log messages say this is: "store live projection". */
  name: string;
  /** In memory: rebuilt at start from the log since this time. */
  replayFromMs: number;
  pollMs: number;
  maxBatch?: number;
  logger: Logger;
  apply: (records: readonly LogRecord[]) => void | Promise<void>;
  /** Drops what the projection holds of the forgotten; returns how many items it dropped. */
  forget: (entries: readonly ForgetEntry[]) => number;
}

/**
 * An in-memory projection of the log that every replica builds whole (no group: each reads every entry), and that
 * follows the forget journal so a forget anywhere reaches it. The follower starts first, so a forget during the
 * replay is either in the log the replay reads or delivered afterwards.
 */
export async function startProjection(log: EventLog, options: ProjectionOptions): Promise<Subscription> {
  const { logger, name } = options;
  const forgets = await followForgets(
    log.forgets,
    (entries) => {
      const dropped = options.forget(entries);
      if (dropped > 0) logger.info({ dropped }, `${name}: forgotten data dropped`);
    },
    {
      pollMs: options.pollMs,
      onError: (e) => logger.warn({ err: e }, `${name}: forget journal read failed`),
    },
  );
  const subscription = log.subscribe(options.group, options.apply, {
    start: { sinceMs: options.replayFromMs },
    ignoreCommitted: true,
    pollMs: options.pollMs,
    ...(options.maxBatch ? { maxBatch: options.maxBatch } : {}),
    onError: (e) => logger.warn({ err: e }, `${name}: a batch failed; retrying`),
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
