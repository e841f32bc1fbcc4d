/**
 * The event ids seen within the dedupe window, held exactly: an id is a 127-bit hash (cyrb128's four lanes, the low
 * bit of one forced to 1 to mark a slot used). Two different ids share a hash with probability about n²/2^128:
 * 1e-24 with 18 million ids held, so an event is never wrongly answered as a duplicate in practice. The hash is not
 * cryptographic: a sender could craft two ids that collide, and lose only its own second event.
 *
 * Ids live in time buckets (window / 15 wide), each an open-addressing table in typed arrays (invisible to the
 * garbage collector): 20 bytes a slot (hash 16 + write 4), tables grown 1.5x at 3/4 full and sized from the previous
 * bucket, so 27-40 bytes an id. A whole bucket is dropped once all of it is older than the window, so a repeat
 * within the window is always found and an id is forgotten between window and window + one bucket after it came.
 * Memory follows traffic, up to `maxIds`: reaching it before the window drops the oldest bucket, and `onShortened`
 * is told (logged and counted), never silently.
 *
 * Ids still being written are pending under their write's number: a replay racing its original waits for the
 * original's fsync rather than being told "duplicate" for an event that might not land.
 */

/** `claim` found no live entry: the id is new and now held (pending under the given write, or durable). */
export const FRESH = -1;
/** `claim` found the id durable: a duplicate. A positive answer is the number of the write still landing it. */
export const DURABLE = 0;
/** A slot freed by a failed write: it keeps its hash for probing, and matches nothing. */
const FREED = -1;

/** Bytes of one slot: four hash lanes and the write. */
export const SLOT_BYTES = 20;
/** Buckets per window: ids are forgotten at most window / BUCKETS late. */
export const BUCKETS = 15;
const MIN_SLOTS = 64;
const MAX_LOAD = 0.75;
const MAX_WRITE = 0x7fffffff;
const HASH = new Int32Array(4);

/** cyrb128 (public domain, bryc) over UTF-16 code units, into HASH; lane 0 is never 0 (0 marks an empty slot). */
export function hashId(id: string): Int32Array {
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
  HASH[0] = a | 1;
  HASH[1] = b ^ a;
  HASH[2] = c ^ a;
  HASH[3] = d ^ a;
  return HASH;
}

/** The bucket width for a window: used by the file log here and by the Redis backend's keys. */
export function bucketMsOf(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / BUCKETS));
}

class Bucket {
  used = 0;
  h0: Int32Array;
  h1: Int32Array;
  h2: Int32Array;
  h3: Int32Array;
  writeOf: Int32Array;

  constructor(
    readonly index: number,
    public slots: number,
  ) {
    this.h0 = new Int32Array(slots);
    this.h1 = new Int32Array(slots);
    this.h2 = new Int32Array(slots);
    this.h3 = new Int32Array(slots);
    this.writeOf = new Int32Array(slots);
  }

  private home(a: number): number {
    // Multiply-shift onto any table size (not only powers of two), so growth can be 1.5x.
    return Math.floor(((a >>> 1) * this.slots) / 2147483648);
  }

  /** The slot holding this hash (not freed), or -1. */
  find(a: number, b: number, c: number, d: number): number {
    for (let s = this.home(a); ; s = s + 1 === this.slots ? 0 : s + 1) {
      const x = this.h0[s]!;
      if (x === 0) return -1;
      if (x === a && this.h1[s] === b && this.h2[s] === c && this.h3[s] === d && this.writeOf[s] !== FREED)
        return s;
    }
  }

  /** Stores a hash known not to be here; false when the table must grow first. */
  insert(a: number, b: number, c: number, d: number, write: number): boolean {
    if (this.used + 1 > this.slots * MAX_LOAD) return false;
    let s = this.home(a);
    while (this.h0[s] !== 0) s = s + 1 === this.slots ? 0 : s + 1;
    this.h0[s] = a;
    this.h1[s] = b;
    this.h2[s] = c;
    this.h3[s] = d;
    this.writeOf[s] = write;
    this.used++;
    return true;
  }

  grown(): Bucket {
    const next = new Bucket(this.index, Math.ceil(this.slots * 1.5));
    for (let s = 0; s < this.slots; s++) {
      if (this.h0[s] === 0 || this.writeOf[s] === FREED) continue;
      next.insert(this.h0[s]!, this.h1[s]!, this.h2[s]!, this.h3[s]!, this.writeOf[s]!);
    }
    return next;
  }
}

export interface ShortenedWindow {
  /** Ids dropped before their window was over. */
  droppedIds: number;
  /** How far back ids are still held after the drop (ms), against the configured window. */
  heldMs: number;
  windowMs: number;
}

export class DedupeIndex {
  readonly bucketMs: number;
  /** Ascending by index. */
  private buckets: Bucket[] = [];
  private total = 0;
  private nextWrite = 1;
  private readonly writes = new Map<number, Promise<unknown>>();

  constructor(
    private readonly windowMs: number,
    private readonly maxIds: number,
    private readonly onShortened?: (info: ShortenedWindow) => void,
  ) {
    this.bucketMs = bucketMsOf(windowMs);
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

  /** Whether bucket `index` may hold an id seen within the window before `nowMs`. */
  private live(index: number, nowMs: number): boolean {
    return (index + 1) * this.bucketMs > nowMs - this.windowMs;
  }

  /**
   * Holds `id` unless a live entry has it: FRESH when it was not there (now held, pending under `write`, or durable
   * for write 0), DURABLE when it is a duplicate, or the number of the write still landing it.
   */
  claim(id: string, nowMs: number, write = 0): number {
    const h = hashId(id);
    const a = h[0]!;
    const b = h[1]!;
    const c = h[2]!;
    const d = h[3]!;
    for (let i = this.buckets.length - 1; i >= 0; i--) {
      const bucket = this.buckets[i]!;
      if (!this.live(bucket.index, nowMs)) break;
      const s = bucket.find(a, b, c, d);
      if (s < 0) continue;
      const pending = bucket.writeOf[s]!;
      return pending !== 0 && this.writes.has(pending) ? pending : DURABLE;
    }
    this.insert(a, b, c, d, nowMs, write);
    return FRESH;
  }

  /** Known durable (rebuilt from the log at open). */
  add(id: string, atMs: number): void {
    this.claim(id, atMs, 0);
  }

  /** The write landed, or failed: then the ids it claimed are free again, and a retry is not a duplicate. */
  settle(write: number, durable: boolean, ids: Iterable<string>): void {
    this.writes.delete(write);
    if (durable) return;
    for (const id of ids) {
      const h = hashId(id);
      for (const bucket of this.buckets) {
        const s = bucket.find(h[0]!, h[1]!, h[2]!, h[3]!);
        if (s >= 0 && bucket.writeOf[s] === write) bucket.writeOf[s] = FREED;
      }
    }
  }

  /** Drops the buckets wholly older than the window; called now and then, not per event. */
  expire(nowMs: number): void {
    while (this.buckets.length > 0 && !this.live(this.buckets[0]!.index, nowMs)) this.drop();
  }

  /** Ids held (slots used, freed ones included). */
  get size(): number {
    return this.total;
  }

  /** Bytes of the typed arrays. */
  get bytes(): number {
    return this.buckets.reduce((n, b) => n + b.slots * SLOT_BYTES, 0);
  }

  private drop(): number {
    const gone = this.buckets.shift()!;
    this.total -= gone.used;
    return gone.used;
  }

  private insert(a: number, b: number, c: number, d: number, atMs: number, write: number): void {
    if (this.total >= this.maxIds) this.makeRoom(atMs);
    const index = Math.floor(atMs / this.bucketMs);
    let k = this.buckets.length - 1;
    while (k >= 0 && this.buckets[k]!.index > index) k--;
    let bucket = this.buckets[k];
    if (!bucket || bucket.index !== index) {
      // Sized from the bucket before it: steady traffic fills it to about 2/3 without growing.
      const before = this.buckets[k]?.used ?? 0;
      bucket = new Bucket(index, Math.max(MIN_SLOTS, Math.ceil((before * 1.05) / (MAX_LOAD * 0.9))));
      this.buckets.splice(k + 1, 0, bucket);
      k++;
    }
    if (!bucket.insert(a, b, c, d, write)) {
      const grown = bucket.grown();
      this.total += grown.used - bucket.used; // freed slots are not copied
      this.buckets[k] = bucket = grown;
      bucket.insert(a, b, c, d, write);
    }
    this.total++;
  }

  /** At the memory bound: expired buckets go first, then the oldest live ones, which shortens the window (told). */
  private makeRoom(nowMs: number): void {
    this.expire(nowMs);
    let dropped = 0;
    while (this.total >= this.maxIds && this.buckets.length > 0) dropped += this.drop();
    if (dropped === 0) return;
    const oldest = this.buckets[0];
    const heldMs = oldest ? Math.max(0, nowMs - oldest.index * this.bucketMs) : 0;
    this.onShortened?.({ droppedIds: dropped, heldMs, windowMs: this.windowMs });
  }
}
