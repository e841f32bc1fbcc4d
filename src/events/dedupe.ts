/**
 * The event ids seen within the dedupe window. At 20,000 events/s the window holds millions of ids; as strings in a
 * Map they were ~100 heap bytes each, and every major GC walked them while acknowledgements waited. Here an id is a
 * 96-bit hash in typed arrays (a ring in arrival order, and an open-addressing table into it): ~32 bytes an id,
 * invisible to the garbage collector. Two ids share a hash with probability ~n/2^96 per event (about 1e-23 with two
 * million ids held), so a fresh event wrongly answered as a duplicate is not a practical risk.
 *
 * Ids still being written are pending under their write's number: a replay racing its original waits for the
 * original's fsync rather than being told "duplicate" for an event that might not land.
 */

/** `claim` found no live entry: the id is new and now held (pending under the given write, or durable). */
export const FRESH = -1;
/** `claim` found the id durable: a duplicate. A positive answer is the number of the write still landing it. */
export const DURABLE = 0;

const MIN_CAPACITY = 1024;
const MAX_WRITE = 0x7fffffff;
const HASH = new Int32Array(3);

/** cyrb128 (public domain, bryc) over UTF-16 code units, three of its four lanes kept. */
function hashId(id: string): void {
  let a = 1779033703;
  let b = 3144134277;
  let c = 1013904242;
  let d = 2773480762;
  for (let i = 0; i < id.length; i++) {
    const k = id.charCodeAt(i);
    a = b ^ Math.imul(a ^ k, 597399067);
    b = c ^ Math.imul(b ^ k, 2869860233);
    c = d ^ Math.imul(c ^ k, 951274213);
    d = a ^ Math.imul(d ^ k, 2716044179);
  }
  a = Math.imul(c ^ (a >>> 18), 597399067);
  b = Math.imul(d ^ (b >>> 22), 2869860233);
  c = Math.imul(a ^ (c >>> 17), 951274213);
  d = Math.imul(b ^ (d >>> 19), 2716044179);
  a ^= b ^ c ^ d;
  HASH[0] = a;
  HASH[1] = b ^ a;
  HASH[2] = c ^ a;
}

export class DedupeIndex {
  private capacity: number;
  private h0: Int32Array;
  private h1: Int32Array;
  private h2: Int32Array;
  private at: Float64Array;
  /** The write landing each entry; settled writes leave their number behind, which then reads as durable. */
  private writeOf: Int32Array;
  /** Ring position + 1 of each entry, by hash; 0 is empty. */
  private slots: Int32Array;
  private mask: number;
  private head = 0;
  private count = 0;
  private nextWrite = 1;
  private readonly writes = new Map<number, Promise<unknown>>();

  constructor(
    private readonly windowMs: number,
    private readonly maxIds: number,
  ) {
    this.capacity = Math.min(MIN_CAPACITY, maxIds);
    this.h0 = new Int32Array(this.capacity);
    this.h1 = new Int32Array(this.capacity);
    this.h2 = new Int32Array(this.capacity);
    this.at = new Float64Array(this.capacity);
    this.writeOf = new Int32Array(this.capacity);
    this.slots = new Int32Array(tableSize(this.capacity));
    this.mask = this.slots.length - 1;
  }

  /** A number for the next write; its ids are claimed under it, then `attach` gives its promise. */
  openWrite(): number {
    const n = this.nextWrite;
    this.nextWrite = n === MAX_WRITE ? 1 : n + 1;
    return n;
  }

  attach(write: number, landed: Promise<unknown>): void {
    this.writes.set(write, landed);
  }

  /** The write in flight under `write`, if it has not settled. */
  pendingWrite(write: number): Promise<unknown> | undefined {
    return this.writes.get(write);
  }

  /**
   * Holds `id` unless a live entry has it: FRESH when it was not there (now held, pending under `write`, or durable
   * for write 0), DURABLE when it is a duplicate, or the number of the write still landing it.
   */
  claim(id: string, nowMs: number, write = 0): number {
    hashId(id);
    const a = HASH[0]!;
    const b = HASH[1]!;
    const c = HASH[2]!;
    for (let slot = a & this.mask; ; slot = (slot + 1) & this.mask) {
      const e = this.slots[slot]!;
      if (e === 0) break;
      const k = e - 1;
      if (this.h0[k] !== a || this.h1[k] !== b || this.h2[k] !== c) continue;
      const pending = this.writeOf[k]!;
      if (pending !== 0 && this.writes.has(pending)) return pending;
      if (nowMs - this.at[k]! < this.windowMs) return DURABLE;
      // Expired: the id may come again. The new entry takes over the slot; the old one dies at eviction.
      break;
    }
    this.link(this.push(a, b, c, nowMs, write));
    return FRESH;
  }

  /** Known durable (rebuilt from the log at open). */
  add(id: string, atMs: number): void {
    this.claim(id, atMs, 0);
  }

  /**
   * The write landed, or failed: then the `claimed` ids it held are free again, and a retry is not a duplicate.
   * They are the newest entries of that write, so the walk back from the newest is short.
   */
  settle(write: number, durable: boolean, claimed: number): void {
    this.writes.delete(write);
    if (durable || claimed === 0) return;
    let left = claimed;
    for (let n = this.count - 1; n >= 0 && left > 0; n--) {
      const k = (this.head + n) % this.capacity;
      if (this.writeOf[k] !== write) continue;
      this.unlink(k);
      this.writeOf[k] = 0;
      this.at[k] = Number.NEGATIVE_INFINITY;
      left--;
    }
  }

  /** Drops ids older than the window; called now and then, not per event. */
  expire(nowMs: number): void {
    while (this.count > 0 && nowMs - this.at[this.head]! >= this.windowMs) this.dropOldest();
  }

  get size(): number {
    return this.count;
  }

  private push(a: number, b: number, c: number, atMs: number, write: number): number {
    if (this.count === this.capacity) {
      this.expire(atMs);
      if (this.count === this.capacity) {
        if (this.capacity < this.maxIds) this.grow();
        else this.dropOldest();
      }
    }
    const k = (this.head + this.count) % this.capacity;
    this.h0[k] = a;
    this.h1[k] = b;
    this.h2[k] = c;
    this.at[k] = atMs;
    this.writeOf[k] = write;
    this.count++;
    return k;
  }

  private dropOldest(): void {
    this.unlink(this.head);
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }

  /** Removes the table's pointer to ring entry `k`, if it still points there (backward-shift deletion). */
  private unlink(k: number): void {
    const mask = this.mask;
    let i = this.h0[k]! & mask;
    while (this.slots[i] !== 0 && this.slots[i] !== k + 1) i = (i + 1) & mask;
    if (this.slots[i] === 0) return;
    for (;;) {
      this.slots[i] = 0;
      let j = i;
      for (;;) {
        j = (j + 1) & mask;
        const e = this.slots[j]!;
        if (e === 0) return;
        const home = this.h0[e - 1]! & mask;
        const stays = i <= j ? home > i && home <= j : home > i || home <= j;
        if (stays) continue;
        this.slots[i] = e;
        i = j;
        break;
      }
    }
  }

  private grow(): void {
    const capacity = Math.min(this.maxIds, this.capacity * 2);
    const copy = <T extends Int32Array | Float64Array>(from: T, to: T): T => {
      for (let n = 0; n < this.count; n++) to[n] = from[(this.head + n) % this.capacity]!;
      return to;
    };
    this.h0 = copy(this.h0, new Int32Array(capacity));
    this.h1 = copy(this.h1, new Int32Array(capacity));
    this.h2 = copy(this.h2, new Int32Array(capacity));
    this.at = copy(this.at, new Float64Array(capacity));
    this.writeOf = copy(this.writeOf, new Int32Array(capacity));
    this.capacity = capacity;
    this.head = 0;
    this.slots = new Int32Array(tableSize(capacity));
    this.mask = this.slots.length - 1;
    // Oldest first, so an id claimed again after it expired ends up pointing at its newest entry.
    for (let n = 0; n < this.count; n++) if (this.at[n] !== Number.NEGATIVE_INFINITY) this.link(n);
  }

  /** Points the table at ring entry `k`: in place of an entry with the same hash, or in the first empty slot. */
  private link(k: number): void {
    const a = this.h0[k]!;
    for (let slot = a & this.mask; ; slot = (slot + 1) & this.mask) {
      const e = this.slots[slot]!;
      const o = e - 1;
      if (e === 0 || (this.h0[o] === a && this.h1[o] === this.h1[k] && this.h2[o] === this.h2[k])) {
        this.slots[slot] = k + 1;
        return;
      }
    }
  }
}

/** A power of two at least twice the capacity: linear probing stays short at half load. */
function tableSize(capacity: number): number {
  let n = 2;
  while (n < capacity * 2) n *= 2;
  return n;
}
