import { storeLiveKey, type InvalidationBus, type TieredCache } from '../cache/index.js';
import type { Logger } from '../platform/index.js';

export interface StoreChangeNotifierDeps {
  /** The `store-live` cache: invalidating drops a key here, in L2 and, through the bus, in every replica. */
  liveCache: Pick<TieredCache<unknown>, 'invalidate'>;
  /** Moves store generations, which response keys carry. */
  bus: Pick<InvalidationBus, 'advance'>;
  /** At most one announcement per store per period. */
  periodMs: number;
  logger: Logger;
}

/**
 * Tells every process that stores changed (live state, or a profile write), so what they cached of those stores is
 * not served again: the live state at once, the gateway's answers by a new generation. A busy store changes many
 * times a second at peak, so changes are gathered and announced once per period, all stores in one message.
 *
 * The generation moves one period after the live state was dropped: by then every predictor has dropped it too, so
 * an answer cached under the new generation cannot have been computed from the old state. A generation that could
 * not be moved (Redis down) is announced again, live state first, until it is.
 */
export class StoreChangeNotifier {
  private changed = new Set<string>();
  /** Stores whose live state was dropped last period: their generation moves this period. */
  private dropped: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly deps: StoreChangeNotifierDeps) {}

  /** What the store's live state or profile says changed. Cheap: called for every applied event. */
  readonly storeChanged = (storeId: string): void => {
    this.changed.add(storeId);
  };

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.deps.periodMs);
    this.timer.unref();
  }

  /** Announces what is pending, both steps, so a change made just before shutdown is not kept from anyone. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    await this.flush();
  }

  /** One period's announcements; a flush still running when the next is due is waited for, not overlapped. */
  flush(): Promise<void> {
    this.flushing ??= this.announce().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async announce(): Promise<void> {
    const advance = this.dropped;
    const drop = [...this.changed];
    this.changed = new Set();
    this.dropped = drop;
    try {
      if (drop.length > 0) await this.deps.liveCache.invalidate(...drop.map(storeLiveKey));
      if (advance.length > 0 && !(await this.deps.bus.advance(advance))) this.retry(advance);
    } catch (e) {
      this.deps.logger.warn({ err: e }, 'store change announcement failed: trying again');
      this.dropped = [];
      this.retry([...advance, ...drop]);
    }
  }

  private retry(ids: readonly string[]): void {
    for (const id of ids) this.changed.add(id);
  }
}
