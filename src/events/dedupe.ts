/**
 * The event ids seen within the dedupe window, oldest first (a Map iterates in insertion order), bounded in count
 * so memory stays flat at any ingest rate. Ids still being written are pending: a replay racing its original waits
 * for the original's fsync rather than being told "duplicate" for an event that might not land.
 */
export class DedupeIndex {
  private readonly seen = new Map<string, number>();
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(
    private readonly windowMs: number,
    private readonly maxIds: number,
  ) {}

  /** The write in flight for `id`, if any. */
  pendingWrite(id: string): Promise<unknown> | undefined {
    return this.pending.get(id);
  }

  has(id: string, nowMs: number): boolean {
    if (this.pending.has(id)) return true;
    const at = this.seen.get(id);
    return at !== undefined && nowMs - at < this.windowMs;
  }

  markPending(id: string, write: Promise<unknown>): void {
    this.pending.set(id, write);
  }

  /** The write landed (or failed: then the id is free again, and a retry is not a duplicate). */
  settle(id: string, durable: boolean, atMs: number): void {
    this.pending.delete(id);
    if (durable) this.add(id, atMs);
  }

  /** Known durable (rebuilt from the log at open). */
  add(id: string, atMs: number): void {
    this.seen.delete(id);
    this.seen.set(id, atMs);
    if (this.seen.size > this.maxIds) this.evict(this.seen.size - this.maxIds);
  }

  /** Drops ids older than the window; called now and then, not per event. */
  expire(nowMs: number): void {
    for (const [id, at] of this.seen) {
      if (nowMs - at < this.windowMs) break;
      this.seen.delete(id);
    }
  }

  get size(): number {
    return this.seen.size;
  }

  private evict(n: number): void {
    for (const id of this.seen.keys()) {
      if (n-- <= 0) break;
      this.seen.delete(id);
    }
  }
}
