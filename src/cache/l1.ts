import { LRUCache } from 'lru-cache';
import type { Entry } from './entry.js';

/** Per entry beyond its value and key: the entry with its clock and lru-cache's slots (measured at ~270). */
const ENTRY_OVERHEAD_BYTES = 320;

export function entryBytes(key: string, entry: Entry<unknown>): number {
  return entry.bytes + 2 * key.length + ENTRY_OVERHEAD_BYTES;
}

/**
 * The in-process level: an LRU bounded in bytes (the decoded values' heap, estimated from their encoded size), so
 * a replica's memory does not depend on how large values happen to be. Entries leave at `staleUntil`; freshness
 * inside that is the caller's. The entry carries its own clock, so expiry is checked here rather than by
 * lru-cache's per-entry TTLs, which cost a clock read and bookkeeping on every get and set of the hot path.
 */
export class L1<V> {
  private readonly lru: LRUCache<string, Entry<V>>;
  private evicted = 0;

  constructor(maxBytes: number, onEvict: () => void) {
    this.lru = new LRUCache<string, Entry<V>>({
      maxSize: maxBytes,
      sizeCalculation: (entry, key) => entryBytes(key, entry),
      // Expired entries are dropped when touched or pushed out by the byte bound; no timer per entry.
      dispose: (_value, _key, reason) => {
        if (reason !== 'evict') return;
        this.evicted++;
        onEvict();
      },
    });
  }

  get(key: string, now = Date.now()): Entry<V> | undefined {
    const entry = this.lru.get(key);
    if (entry === undefined || now < entry.staleUntil) return entry;
    this.lru.delete(key);
    return undefined;
  }

  set(key: string, entry: Entry<V>, now: number): void {
    if (entry.staleUntil <= now) return;
    // An entry larger than the whole bound is not kept; lru-cache refuses it without evicting others.
    this.lru.set(key, entry);
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  clear(): void {
    this.lru.clear();
  }

  stats(): { entries: number; bytes: number; maxBytes: number; evictions: number } {
    return {
      entries: this.lru.size,
      bytes: this.lru.calculatedSize,
      maxBytes: this.lru.maxSize,
      evictions: this.evicted,
    };
  }
}
