import { err, ok, type Result } from '../platform/index.js';
import type { L2FailureReason } from './metrics.js';

/** How values become the strings stored in L2 (and measured for the L1 byte bound). */
export interface Codec<V> {
  encode(value: V): string;
  decode(text: string): V;
}

export const jsonCodec: Codec<unknown> = {
  encode: (value) => JSON.stringify(value),
  decode: (text) => JSON.parse(text) as unknown,
};

export type L2Outcome<T> = Result<T, L2FailureReason>;

export interface L2Write {
  key: string;
  payload: string;
  ttlMs: number;
}

/**
 * The shared level: a key-value store with expiry, keys already namespaced. Failure is an expected outcome, not an
 * exception, because a cache level that is down must never fail a request.
 */
export interface L2Store {
  get(key: string): Promise<L2Outcome<string | undefined>>;
  /** One round trip for a list page (MGET, or per-node pipelines in a cluster). */
  mget(keys: string[]): Promise<L2Outcome<(string | undefined)[]>>;
  set(writes: L2Write[]): Promise<L2Outcome<void>>;
  del(keys: string[]): Promise<L2Outcome<void>>;
}

/** The in-memory L2: for tests, and to model a shared level between two caches in one process. */
export class MemoryL2 implements L2Store {
  private readonly data = new Map<string, { payload: string; expiresAt: number }>();
  /** Set to simulate an outage. */
  down = false;

  async get(key: string): Promise<L2Outcome<string | undefined>> {
    if (this.down) return err('down');
    return ok(this.read(key));
  }

  async mget(keys: string[]): Promise<L2Outcome<(string | undefined)[]>> {
    if (this.down) return err('down');
    return ok(keys.map((k) => this.read(k)));
  }

  async set(writes: L2Write[]): Promise<L2Outcome<void>> {
    if (this.down) return err('down');
    for (const w of writes) this.data.set(w.key, { payload: w.payload, expiresAt: Date.now() + w.ttlMs });
    return ok(undefined);
  }

  async del(keys: string[]): Promise<L2Outcome<void>> {
    if (this.down) return err('down');
    for (const k of keys) this.data.delete(k);
    return ok(undefined);
  }

  get size(): number {
    return this.data.size;
  }

  private read(key: string): string | undefined {
    const entry = this.data.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.data.delete(key);
      return undefined;
    }
    return entry.payload;
  }
}
