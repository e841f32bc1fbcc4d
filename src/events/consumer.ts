import type { EventLog, LogOffset, RecordHandler, SubscribeOptions, Subscription } from './types.js';

export interface PollingLog extends EventLog {
  /** Called when this process appended, so consumers here need not wait for the next poll. */
  addAppendListener?(listener: () => void): () => void;
}

const RETRY_MS = [100, 250, 500, 1000, 2000, 5000];

/**
 * A consumer group over `read` and `commit`: reads a batch, hands it to the handler, and commits the next offset only
 * after the handler succeeded, so a crash or a throwing handler redelivers (at least once). Used by the file and
 * memory logs; the Redis log has its own on XREADGROUP.
 */
export class PollingSubscription implements Subscription {
  private stopped = false;
  private position: LogOffset | undefined;
  /** Handled but not yet committed. */
  private uncommitted: LogOffset | undefined;
  private lastCommitMs = 0;
  private wake: (() => void) | undefined;
  private readonly done: Promise<void>;
  private readonly unlisten: (() => void) | undefined;
  private waiters: Array<{ target: LogOffset; resolve: () => void }> = [];

  constructor(
    private readonly log: PollingLog,
    readonly group: string,
    private readonly handler: RecordHandler,
    private readonly options: SubscribeOptions = {},
  ) {
    this.unlisten = log.addAppendListener?.(() => this.wake?.());
    this.done = this.loop();
  }

  async caughtUp(): Promise<void> {
    const target = (await this.log.stats()).next;
    if (this.position !== undefined && this.log.compare(this.position, target) >= 0) return;
    await new Promise<void>((resolve) => this.waiters.push({ target, resolve }));
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.unlisten?.();
    await this.done;
  }

  private async startOffset(): Promise<LogOffset> {
    const committed = this.options.ignoreCommitted ? undefined : await this.log.committed(this.group);
    if (committed !== undefined) return committed;
    return (await this.log.read(this.options.start ?? 'earliest', 0)).next;
  }

  private async loop(): Promise<void> {
    const maxBatch = this.options.maxBatch ?? 1000;
    const pollMs = this.options.pollMs ?? 250;
    let failures = 0;
    while (!this.stopped) {
      try {
        this.position ??= await this.startOffset();
        const { records, next } = await this.log.read(this.position, maxBatch);
        if (records.length > 0) {
          await this.handler(records);
          this.uncommitted = next;
        }
        this.position = next;
        if (Date.now() - this.lastCommitMs >= (this.options.commitIntervalMs ?? 1000)) await this.commit();
        failures = 0;
        this.release();
        if (records.length < maxBatch) await this.sleep(pollMs);
        // A full batch means more is waiting, and reads from the writer's tail resolve without I/O: without a
        // turn of the event loop here, catching up would hold every request until the consumer is done.
        else await new Promise<void>((resolve) => setImmediate(resolve));
      } catch (e) {
        this.options.onError?.(e);
        await this.sleep(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]!);
      }
    }
    await this.commit().catch((e: unknown) => this.options.onError?.(e));
  }

  /**
   * Offsets are committed at most once per commitIntervalMs (and at close), not per batch: a crash redelivers at
   * most that much, which at-least-once consumers tolerate, and the log is not rewritten for every small batch.
   */
  private async commit(): Promise<void> {
    this.lastCommitMs = Date.now();
    const next = this.uncommitted;
    if (next === undefined) return;
    await this.log.commit(this.group, next);
    if (this.uncommitted === next) this.uncommitted = undefined;
  }

  private release(): void {
    if (this.position === undefined || this.waiters.length === 0) return;
    const at = this.position;
    this.waiters = this.waiters.filter((w) => {
      if (this.log.compare(at, w.target) < 0) return true;
      w.resolve();
      return false;
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}
