import type { EtaEvent, LogRecord, ReadResult } from './types.js';

/** A record of the tail: its offset string is made only if a consumer asks (most never do). */
class TailRecord implements LogRecord {
  constructor(
    private readonly position: number,
    readonly ingestedAtMs: number,
    readonly event: EtaEvent,
  ) {}

  get offset(): string {
    return String(this.position);
  }
}

/** Records kept in memory after their append, so consumers in the writing process read the tail without I/O. */
export const TAIL_RECORDS = 10_000;

/** The newest records, by position, as appended: a read inside it is served from memory. */
export class TailCache {
  private positions: number[] = [];
  private records: LogRecord[] = [];
  end = 0;

  constructor(private readonly capacity: number) {}

  push(position: number, ingestedAtMs: number, event: EtaEvent): void {
    this.positions.push(position);
    this.records.push(new TailRecord(position, ingestedAtMs, event));
    if (this.positions.length > this.capacity * 1.5) {
      this.positions = this.positions.slice(-this.capacity);
      this.records = this.records.slice(-this.capacity);
    }
  }

  clear(): void {
    this.positions = [];
    this.records = [];
  }

  /** Undefined when `position` is not the start of a cached record (older, or between records). */
  read(position: number, max: number): ReadResult | undefined {
    const first = this.positions[0];
    if (first === undefined || position < first || position > this.end) return undefined;
    if (position === this.end) return { records: [], next: String(position) };
    let lo = 0;
    let hi = this.positions.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.positions[mid]! < position) lo = mid + 1;
      else hi = mid;
    }
    if (this.positions[lo] !== position) return undefined;
    const upTo = Math.min(this.positions.length, lo + max);
    const next = upTo < this.positions.length ? this.positions[upTo]! : this.end;
    return { records: this.records.slice(lo, upTo), next: String(next) };
  }
}
