import { PollingSubscription, type PollingLog } from './consumer.js';
import { DedupeIndex, FRESH } from './dedupe.js';
import { MemoryForgetJournal } from './forget-journal.js';
import { MemoryLeases } from './leases.js';
import { collectOrders, forgetResult, redact, scopeOf } from './redact.js';
import type {
  AppendResult,
  EtaEvent,
  ForgetHook,
  ForgetRequest,
  ForgetResult,
  LogOffset,
  LogRecord,
  LogStats,
  ReadResult,
  RecordHandler,
  RetentionResult,
  StartAt,
  SubscribeOptions,
  Subscription,
} from './types.js';

/** The event log in memory: for tests, and `events.backend=memory` where nothing must outlive the process. */
export class MemoryEventLog implements PollingLog {
  readonly kind = 'memory' as const;
  private records: LogRecord[] = [];
  /** Offset of records[0]: retention drops from the front. */
  private base = 0;
  private readonly groups = new Map<string, LogOffset>();
  private readonly hooks: ForgetHook[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly dedupe: DedupeIndex;
  readonly forgets = new MemoryForgetJournal();
  private readonly leases = new MemoryLeases();

  constructor(
    private readonly options: {
      dedupeWindowMs: number;
      dedupeMaxIds: number;
      retentionMs?: number;
      /** Consumer groups the time bound waits for (events.trimWaitsForGroups). */
      trimWaitsForGroups?: readonly string[];
      now?: () => number;
    },
  ) {
    this.dedupe = new DedupeIndex(options.dedupeWindowMs, options.dedupeMaxIds);
  }

  async open(): Promise<void> {}

  async append(events: readonly EtaEvent[]): Promise<AppendResult> {
    const now = (this.options.now ?? Date.now)();
    const offsets = events.map((e) => {
      if (this.dedupe.claim(e.event_id, now) !== FRESH) return null;
      const offset = String(this.base + this.records.length);
      this.records.push({ offset, ingestedAtMs: now, event: structuredClone(e) });
      return offset;
    });
    for (const l of this.listeners) l();
    return { offsets };
  }

  addAppendListener(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private index(from: LogOffset | StartAt): number {
    if (from === 'earliest') return this.base;
    if (from === 'latest') return this.base + this.records.length;
    if (typeof from === 'string') return Number(from);
    if ('offset' in from) return Number(from.offset);
    const i = this.records.findIndex((r) => r.ingestedAtMs >= from.sinceMs);
    return i < 0 ? this.base + this.records.length : this.base + i;
  }

  async read(from: LogOffset | StartAt, max: number): Promise<ReadResult> {
    const start = Math.max(this.index(from), this.base);
    const records = this.records.slice(start - this.base, start - this.base + Math.max(0, max));
    return { records, next: String(start + records.length) };
  }

  async committed(group: string): Promise<LogOffset | undefined> {
    return this.groups.get(group);
  }

  async commit(group: string, next: LogOffset): Promise<void> {
    this.groups.set(group, next);
  }

  subscribe(group: string, handler: RecordHandler, options?: SubscribeOptions): Subscription {
    return new PollingSubscription(this, group, handler, options);
  }

  compare(a: LogOffset, b: LogOffset): number {
    return Number(a) - Number(b);
  }

  async enforceRetention(nowMs: number): Promise<RetentionResult> {
    const keepFrom = this.options.retentionMs ? nowMs - this.options.retentionMs : Number.NEGATIVE_INFINITY;
    const waitFor = (this.options.trimWaitsForGroups ?? []).filter((g) => this.groups.has(g));
    // Records before every waited-for group's offset may go; the first one a group still needs stays.
    const limit = Math.min(...waitFor.map((g) => Number(this.groups.get(g))), Number.POSITIVE_INFINITY);
    let n = 0;
    while (n < this.records.length && this.records[n]!.ingestedAtMs < keepFrom && this.base + n < limit) n++;
    const held =
      n < this.records.length && this.records[n]!.ingestedAtMs < keepFrom
        ? waitFor.filter((g) => Number(this.groups.get(g)) <= this.base + n)
        : [];
    this.records = this.records.slice(n);
    this.base += n;
    const result: RetentionResult = { segmentsDeleted: 0, bytesDeleted: 0 };
    if (this.options.retentionMs) {
      const journal = await this.forgets.trim(keepFrom, waitFor);
      held.push(...journal.heldFor.filter((g) => !held.includes(g)));
    }
    if (held.length > 0) result.heldFor = held;
    return result;
  }

  async forget(request: ForgetRequest): Promise<ForgetResult> {
    const scope = scopeOf(request);
    for (const r of this.records) collectOrders(r.event, scope);
    let redacted = 0;
    for (const r of this.records) {
      const out = redact(r.event, scope);
      if (out) {
        r.event = out;
        redacted++;
      }
    }
    const result = forgetResult(redacted, scope);
    await this.forgets.append(result, (this.options.now ?? Date.now)());
    for (const hook of this.hooks) await hook(request, result);
    return result;
  }

  onForget(hook: ForgetHook): void {
    this.hooks.push(hook);
  }

  claimLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.leases.claim(name, holder, ttlMs, (this.options.now ?? Date.now)());
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.leases.release(name, holder);
  }

  async stats(): Promise<LogStats> {
    return { bytes: 0, segments: 1, first: String(this.base), next: String(this.base + this.records.length) };
  }

  async close(): Promise<void> {}
}
