import type { Redis } from 'ioredis';
import type { RedisEventLog, StreamEntry } from './redis-log.js';
import { compareIds, recordOf } from './redis-log.js';
import type { LogOffset, RecordHandler, SubscribeOptions, Subscription } from './types.js';

/** XGROUP CREATE takes an inclusive-after id: the group delivers what comes after it, as our cursors mean. */
export const startIdOf = (cursor: string): string => cursor;

const RETRY_MS = [100, 250, 500, 1000, 2000, 5000];

/**
 * A consumer group on XREADGROUP. First what this consumer was handed but never acknowledged (a crash mid-batch:
 * redelivered, at least once), then new entries, blocking up to pollMs on its own connection. XACK after the
 * handler succeeded.
 *
 * With `ignoreCommitted` (an in-memory projection that rebuilds from a window of the log) there is no group: every
 * replica must see every entry, and a group would hand each replica only its share and let a starting replica
 * rewind the others. Such a subscription reads with plain XREAD from its own cursor.
 */
export class RedisSubscription implements Subscription {
  private stopped = false;
  private last: LogOffset | undefined;
  private readonly conn: Redis;
  private readonly done: Promise<void>;
  private waiters: Array<{ target: LogOffset; epoch: number; resolve: () => void }> = [];
  private reads = 0;

  constructor(
    private readonly log: RedisEventLog,
    readonly group: string,
    private readonly consumer: string,
    private readonly handler: RecordHandler,
    private readonly options: SubscribeOptions,
  ) {
    this.conn = log.client.duplicate({ lazyConnect: true, maxRetriesPerRequest: null });
    this.done = this.loop();
  }

  async caughtUp(): Promise<void> {
    const target = (await this.log.stats()).next;
    if (target === '0-0' || (this.last !== undefined && compareIds(this.last, target) >= 0)) return;
    await new Promise<void>((resolve) => this.waiters.push({ target, epoch: this.reads, resolve }));
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.conn.disconnect();
    await this.done;
  }

  private async ensureGroup(): Promise<void> {
    const start = await this.log.groupStart(this.options.start);
    try {
      await this.log.client.xgroup('CREATE', this.log.key, this.group, start, 'MKSTREAM');
    } catch (e) {
      if (!String((e as Error).message).includes('BUSYGROUP')) throw e;
      if (this.options.ignoreCommitted)
        await this.log.client.xgroup('SETID', this.log.key, this.group, start);
    }
  }

  private async loop(): Promise<void> {
    await this.conn.connect().catch(() => undefined);
    if (this.options.ignoreCommitted) return this.readAlone();
    let ready = false;
    let pending = true;
    let failures = 0;
    const max = this.options.maxBatch ?? 1000;
    while (!this.stopped) {
      try {
        if (!ready) {
          await this.ensureGroup();
          ready = true;
        }
        const args = ['GROUP', this.group, this.consumer, 'COUNT', max];
        if (!pending) args.push('BLOCK', this.options.pollMs ?? 250);
        args.push('STREAMS', this.log.key, pending ? '0' : '>');
        const epoch = ++this.reads;
        const reply = (await this.conn.call('XREADGROUP', ...args)) as Array<[string, StreamEntry[]]> | null;
        const entries = reply?.[0]?.[1] ?? [];
        if (pending && entries.length === 0) pending = false;
        const records = entries.filter((e) => e[1] !== null).map(recordOf);
        if (records.length > 0) await this.handler(records);
        if (entries.length > 0) {
          await this.log.client.xack(this.log.key, this.group, ...entries.map((e) => e[0]));
          this.last = entries.at(-1)![0];
        }
        failures = 0;
        this.release(entries.length === 0 && !pending ? epoch : 0);
      } catch (e) {
        if (this.stopped) break;
        // What this consumer was handed stays pending in the group until acknowledged: read it again first.
        pending = true;
        this.options.onError?.(e);
        await new Promise((r) => setTimeout(r, RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]).unref());
      }
    }
  }

  /** XREAD from this subscription's own cursor: no group, nothing to acknowledge, every entry seen. */
  private async readAlone(): Promise<void> {
    let cursor: string | undefined;
    let failures = 0;
    const max = this.options.maxBatch ?? 1000;
    while (!this.stopped) {
      try {
        // '$' would mean "after the newest" afresh at every read: pin it to a concrete id once.
        if (cursor === undefined) {
          const start = await this.log.groupStart(this.options.start);
          cursor = start === '$' ? (await this.log.stats()).next : start;
        }
        const epoch = ++this.reads;
        const reply = (await this.conn.call(
          'XREAD',
          'COUNT',
          max,
          'BLOCK',
          this.options.pollMs ?? 250,
          'STREAMS',
          this.log.key,
          cursor,
        )) as Array<[string, StreamEntry[]]> | null;
        const entries = reply?.[0]?.[1] ?? [];
        const records = entries.filter((e) => e[1] !== null).map(recordOf);
        if (records.length > 0) await this.handler(records);
        if (entries.length > 0) {
          cursor = entries.at(-1)![0];
          this.last = cursor;
        }
        failures = 0;
        this.release(entries.length === 0 ? epoch : 0);
      } catch (e) {
        if (this.stopped) break;
        this.options.onError?.(e);
        await new Promise((r) => setTimeout(r, RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]).unref());
      }
    }
  }

  /** `emptyEpoch`: a read that found nothing new; every waiter registered before it started is caught up. */
  private release(emptyEpoch: number): void {
    const at = this.last;
    this.waiters = this.waiters.filter((w) => {
      const done = w.epoch < emptyEpoch || (at !== undefined && compareIds(at, w.target) >= 0);
      if (!done) return true;
      w.resolve();
      return false;
    });
  }
}
