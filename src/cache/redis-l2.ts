import { err, ok } from '../platform/index.js';
import type { L2Outcome, L2Store, L2Write } from './l2.js';
import type { L2FailureReason } from './metrics.js';
import type { RedisConnection } from './redis-connection.js';

const TIMED_OUT = Symbol('timed out');

/**
 * The Redis L2. Every call has a deadline and never throws: while Redis is down it is not even tried, and a slow or
 * failing call reports why, so the caller counts it and goes on from L1 or the loader.
 */
export class RedisL2 implements L2Store {
  constructor(
    private readonly connection: RedisConnection,
    private readonly timeoutMs: number,
  ) {}

  get(key: string): Promise<L2Outcome<string | undefined>> {
    return this.call(async () => (await this.connection.client.get(key)) ?? undefined);
  }

  mget(keys: string[]): Promise<L2Outcome<(string | undefined)[]>> {
    if (keys.length === 0) return Promise.resolve(ok([]));
    return this.call(async () => {
      const client = this.connection.client;
      // MGET needs one hash slot in a cluster; there, auto-pipelining sends the GETs as one pipeline per node.
      const values =
        this.connection.mode === 'cluster'
          ? await Promise.all(keys.map((k) => client.get(k)))
          : await client.mget(...keys);
      return values.map((v) => v ?? undefined);
    });
  }

  set(writes: L2Write[]): Promise<L2Outcome<void>> {
    if (writes.length === 0) return Promise.resolve(ok(undefined));
    return this.call(async () => {
      const client = this.connection.client;
      const ttl = (w: L2Write): number => Math.max(1, Math.ceil(w.ttlMs));
      if (this.connection.mode === 'cluster' || writes.length === 1) {
        await Promise.all(writes.map((w) => client.set(w.key, w.payload, 'PX', ttl(w))));
        return;
      }
      const pipeline = client.pipeline();
      for (const w of writes) pipeline.set(w.key, w.payload, 'PX', ttl(w));
      const results = await pipeline.exec();
      const failed = results?.find(([e]) => e);
      if (failed) throw failed[0];
    });
  }

  del(keys: string[]): Promise<L2Outcome<void>> {
    if (keys.length === 0) return Promise.resolve(ok(undefined));
    return this.call(async () => {
      // One DEL per key: keys of different slots cannot share a DEL in a cluster.
      await Promise.all(keys.map((k) => this.connection.client.del(k)));
    });
  }

  private async call<T>(op: () => Promise<T>): Promise<L2Outcome<T>> {
    if (!this.connection.ready) return err<L2FailureReason>('down');
    let timer: NodeJS.Timeout | undefined;
    const pending = op();
    // A call given up at the deadline may still fail later; that must not surface as an unhandled rejection.
    pending.catch(() => undefined);
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), this.timeoutMs);
    });
    try {
      const value = await Promise.race([pending, deadline]);
      return value === TIMED_OUT ? err<L2FailureReason>('timeout') : ok(value as T);
    } catch (e) {
      const timedOut = (e as Error).message?.includes('timed out');
      return err<L2FailureReason>(timedOut ? 'timeout' : 'error');
    } finally {
      clearTimeout(timer);
    }
  }
}
