import type { CacheKeys, InvalidationBus, TieredCache } from '../cache/index.js';
import type { Logger } from '../platform/index.js';

const HOUR_MS = 3_600_000;
/**
 * Hours of order dropped on every change, loaded here or not: another store replica may have loaded them, and
 * orders are quoted for about now.
 */
const HOURS_AROUND_NOW = [-1, 0, 1];

export interface StoreChangeNotifierDeps {
  /** The `store-live` cache: invalidating drops a key here, in L2 and, through the bus, in every replica. */
  liveCache: Pick<TieredCache<unknown>, 'invalidate'>;
  keys: Pick<CacheKeys, 'storeLive'>;
  /** Moves store generations, which response keys carry. */
  bus: Pick<InvalidationBus, 'advance'>;
  /** At most one announcement per store per period. */
  periodMs: number;
  /** How long a cached live entry can be served after it was loaded (TTL plus grace). */
  retentionMs: number;
  logger: Logger;
  now?: () => number;
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
  /**
   * Live state is cached per store and hour of the order, for any order time. Each cached entry was loaded through
   * this store module, so it knows the hours to drop: per store, hour -> when it was last loaded.
   */
  private readonly loadedHours = new Map<string, Map<number, number>>();
  private changed = new Set<string>();
  /** Stores whose live state was dropped last period: their generation moves this period. */
  private dropped: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: StoreChangeNotifierDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Something `getStoreFeatures` answers for the store changed. Cheap: called for every applied event. */
  readonly storeChanged = (storeId: string): void => {
    this.changed.add(storeId);
  };

  /** Live state of these stores for an order at `atMs` is being loaded, and may be cached for the retention. */
  loaded(storeIds: readonly string[], atMs: number): void {
    const hour = Math.floor(atMs / HOUR_MS);
    const now = this.now();
    for (const id of storeIds) {
      let hours = this.loadedHours.get(id);
      if (!hours) this.loadedHours.set(id, (hours = new Map()));
      hours.set(hour, now);
    }
  }

  /** Forgets hours no cache can still hold, so memory follows what is cached. */
  prune(): void {
    const since = this.now() - this.deps.retentionMs;
    for (const [id, hours] of this.loadedHours) {
      for (const [hour, at] of hours) if (at < since) hours.delete(hour);
      if (hours.size === 0) this.loadedHours.delete(id);
    }
  }

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
      const keys = drop.flatMap((id) => this.cachedKeys(id));
      if (keys.length > 0) await this.deps.liveCache.invalidate(...keys);
      if (advance.length > 0 && !(await this.deps.bus.advance(advance))) this.retry(advance);
    } catch (e) {
      this.deps.logger.warn({ err: e }, 'store change announcement failed: trying again');
      this.dropped = [];
      this.retry([...advance, ...drop]);
    }
  }

  private cachedKeys(storeId: string): string[] {
    const now = this.now();
    const current = Math.floor(now / HOUR_MS);
    const wanted = new Set(HOURS_AROUND_NOW.map((h) => current + h));
    const hours = this.loadedHours.get(storeId);
    for (const [hour, at] of hours ?? []) {
      if (at < now - this.deps.retentionMs) hours!.delete(hour);
      else wanted.add(hour);
    }
    return [...wanted].map((hour) => this.deps.keys.storeLive(storeId, hour * HOUR_MS));
  }

  private retry(ids: readonly string[]): void {
    for (const id of ids) this.changed.add(id);
  }
}
