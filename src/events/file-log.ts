import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PollingSubscription, type PollingLog } from './consumer.js';
import { DamageLedger, type DamageReport } from './damage.js';
import { DedupeIndex, DURABLE, FRESH, type ShortenedWindow } from './dedupe.js';
import { forgetInSegments, forgetScopeIn } from './file-forget.js';
import { forgetResult } from './redact.js';
import { FileForgetJournal } from './forget-journal.js';
import { nodeFs, syncDir, type FsLike } from './fs-like.js';
import { FileLeases } from './leases.js';
import { OffsetsStore } from './offsets-store.js';
import { encodeRecords } from './record-codec.js';
import { alive, eventIdOf } from './segment-io.js';
import { readSegments } from './segment-reader.js';
import { enforceSegmentRetention } from './retention.js';
import { TAIL_RECORDS, TailCache } from './tail-cache.js';
import { listSegments, scanSegment, segmentName, type Damage, type SegmentInfo } from './segments.js';
import type {
  AppendResult,
  EncodedEvents,
  EtaEvent,
  ForgetHook,
  ForgetRequest,
  ForgetResult,
  LogOffset,
  LogStats,
  ReadResult,
  RecordHandler,
  RetentionResult,
  StartAt,
  SubscribeOptions,
  Subscription,
} from './types.js';

export interface FileLogOptions {
  dir: string;
  /** One writer per directory (it holds a lock); readers in other processes tail the same files. */
  mode: 'writer' | 'reader';
  segmentBytes: number;
  retentionMs: number;
  maxDiskBytes: number;
  /** Consumer groups the time bound waits for (see retention.ts); the disk bound does not wait. */
  trimWaitsForGroups?: readonly string[];
  dedupeWindowMs: number;
  dedupeMaxIds: number;
  now?: () => number;
  /** The file operations; node:fs/promises unless a test injects faults around it. */
  fs?: FsLike;
  /** Told when open cut a torn tail, so it is logged. */
  onRepair?: (info: { file: string; keptBytes: number; cutBytes: number; reason: string }) => void;
  /** Told once per damaged place found (at open or by a read), so it is logged and counted. */
  onDamage?: (report: DamageReport) => void;
  /** Told when the dedupe memory bound forgot ids before their window was over. */
  onDedupeShortened?: (info: ShortenedWindow) => void;
}

/** What readiness shows of the log: damage found, and whether appends fail now. */
export interface LogHealth {
  appendable: boolean;
  problems: string[];
}

interface Job {
  ingestedAtMs: number;
  events: readonly EtaEvent[];
  /** Indexes into `events` of the records in `data`, in order. */
  fresh: number[];
  data: Buffer;
  /** Bytes of each record in `data`. */
  sizes: Uint32Array;
  /** Told the position of the job's first record once it is durable. */
  resolve: (position: number) => void;
  reject: (e: unknown) => void;
}

/**
 * The embedded event log: append-only segment files of framed records (marker, CRC32, length: record-codec.ts).
 * Appends are group committed (every append waiting while an fsync runs shares the next one) and acknowledged after
 * the fsync. Damage is stepped over and reported (damage.ts), a torn tail is cut, and a failed write, fsync or
 * rotation fails only the appends it hit: the next one tries again.
 */
export class FileEventLog implements PollingLog {
  readonly kind = 'file' as const;
  private segments: SegmentInfo[] = [];
  private active: FileHandle | undefined;
  private activeSize = 0;
  /** Global position after the last durable record (writer). */
  private end = 0;
  private queue: Job[] = [];
  private flushing: Promise<void> | undefined;
  private readonly dedupe: DedupeIndex;
  private readonly offsets: OffsetsStore;
  private readonly hooks: ForgetHook[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly now: () => number;
  private lockFile: string | undefined;
  private appendsSinceExpire = 0;
  private readonly tail = new TailCache(TAIL_RECORDS);
  private readonly fs: FsLike;
  private readonly damage: DamageLedger;
  /** The last append failure, until an append succeeds again. */
  private appendFault: string | undefined;
  /** A new segment was created but its directory entry is not yet fsync'd: nothing is written before it is. */
  private dirUnsynced = false;
  /** Unacknowledged bytes past activeSize that a failed truncate left: cut before the next write. */
  private dirtyTail = false;
  /** `<dir>/forgotten/journal.jsonl`: whom each forget covered, for the lake and the projections. */
  readonly forgets: FileForgetJournal;
  private readonly leases: FileLeases;

  constructor(private readonly options: FileLogOptions) {
    this.now = options.now ?? Date.now;
    this.fs = options.fs ?? nodeFs;
    this.forgets = new FileForgetJournal(path.join(options.dir, 'forgotten'), this.fs);
    this.leases = new FileLeases(path.join(options.dir, 'leases'), this.fs);
    this.dedupe = new DedupeIndex(options.dedupeWindowMs, options.dedupeMaxIds, options.onDedupeShortened);
    this.offsets = new OffsetsStore(path.join(options.dir, 'consumers'), this.fs);
    this.damage = new DamageLedger(this.fs, options.dir, this.now, options.onDamage);
  }

  get dir(): string {
    return this.options.dir;
  }

  async open(): Promise<void> {
    await this.fs.mkdir(this.options.dir, { recursive: true });
    this.segments = await listSegments(this.fs, this.options.dir);
    if (this.options.mode === 'reader') return;
    await this.lock();
    if (this.segments.length === 0) this.segments.push(await this.createSegment(0));
    const last = this.segments[this.segments.length - 1]!;
    const scan = await scanSegment(this.fs, last.file);
    last.format = scan.format;
    for (const d of scan.damage) await this.reportDamage(last.file, d, 'active');
    if (scan.tail && scan.format === 1) {
      // Format 1 has no marker: what follows damage cannot be told from a torn write. Keep a copy, then cut.
      await this.reportDamage(last.file, scan.tail, 'format1');
    }
    if (scan.tail) {
      await this.fs.truncate(last.file, scan.validBytes);
      this.options.onRepair?.({
        file: path.basename(last.file),
        keptBytes: scan.validBytes,
        cutBytes: scan.tail.bytes,
        reason: scan.tail.reason,
      });
      last.size = scan.validBytes;
    }
    this.active = await this.fs.open(last.file, 'r+');
    await this.active.datasync();
    this.activeSize = last.size;
    this.end = last.base + last.size;
    // New records are format 2: a format-1 segment being appended to is sealed as it is.
    if (scan.format === 1 && last.size > 0) {
      await this.rotate();
      await syncDir(this.fs, this.options.dir);
      this.dirUnsynced = false;
    }
    await this.rebuildDedupe();
  }

  private async reportDamage(file: string, d: Damage, kind: 'active' | 'sealed' | 'format1'): Promise<void> {
    await this.damage.report(kind, file, d.reason, d.at, d.bytes);
  }

  /** Replays the ids of the segments written within the dedupe window, so a replay after a restart is still a no-op. */
  private async rebuildDedupe(): Promise<void> {
    const since = this.now() - this.options.dedupeWindowMs;
    const active = this.segments[this.segments.length - 1];
    for (const seg of this.segments) {
      if (seg.mtimeMs < since && seg !== active) continue;
      const scan = await scanSegment(this.fs, seg.file, (_pos, at, json) => {
        const id = eventIdOf(json);
        if (id !== undefined && at >= since) this.dedupe.add(id, at);
      });
      seg.format = scan.format;
      if (seg === active) continue; // reported above
      const kind = scan.format === 1 ? 'format1' : 'sealed';
      for (const d of [...scan.damage, ...(scan.tail ? [scan.tail] : [])])
        await this.reportDamage(seg.file, d, kind);
    }
  }

  private async lock(): Promise<void> {
    const file = path.join(this.options.dir, 'writer.lock');
    try {
      const pid = Number(await this.fs.readFile(file, 'utf8'));
      if (pid && pid !== process.pid && alive(pid)) {
        throw new Error(`the event log in ${this.options.dir} is being written by process ${pid}`);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await this.fs.writeFile(file, String(process.pid));
    this.lockFile = file;
  }

  /** An empty segment file, its name fsync'd into the directory (the first one, at open). */
  private async createSegment(base: number): Promise<SegmentInfo> {
    const file = path.join(this.options.dir, segmentName(base));
    const handle = await this.openNew(file);
    await handle.close();
    await syncDir(this.fs, this.options.dir);
    return { base, file, size: 0, mtimeMs: this.now(), format: 2 };
  }

  /**
   * A new segment file, open for writing. One left by a rotation that failed after creating it is emptied: it was
   * never in the log, so nothing in it was acknowledged.
   */
  private async openNew(file: string): Promise<FileHandle> {
    try {
      return await this.fs.open(file, 'wx+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const handle = await this.fs.open(file, 'r+');
      await handle.truncate(0).catch(async (err: unknown) => {
        await handle.close();
        throw err;
      });
      return handle;
    }
  }

  async append(events: readonly EtaEvent[], encoded?: EncodedEvents): Promise<AppendResult> {
    if (!this.active)
      throw new Error(
        this.options.mode === 'reader'
          ? 'this process reads the event log; another writes it'
          : 'the event log is not open',
      );
    const now = this.now();
    const offsets: Array<LogOffset | null> = new Array<LogOffset | null>(events.length).fill(null);
    const fresh: number[] = [];
    const waits: Promise<unknown>[] = [];
    const write = this.dedupe.openWrite();
    for (let i = 0; i < events.length; i++) {
      const seen = this.dedupe.claim(events[i]!.event_id, now, write);
      if (seen === FRESH) fresh.push(i);
      else if (seen !== DURABLE && seen !== write) {
        const pending = this.dedupe.pendingWrite(seen);
        if (pending) waits.push(pending);
      }
    }
    if (fresh.length > 0) {
      const { data, sizes } = encodeRecords(events, fresh, encoded, now);
      const landed = new Promise<number>((resolve, reject) =>
        this.queue.push({ ingestedAtMs: now, events, fresh, data, sizes, resolve, reject }),
      );
      this.dedupe.attach(write, landed);
      this.flushing ??= this.flush();
      let durable = false;
      try {
        let at = await landed;
        durable = true;
        for (let k = 0; k < fresh.length; k++) {
          offsets[fresh[k]!] = String(at);
          at += sizes[k]!;
        }
      } finally {
        this.dedupe.settle(
          write,
          durable,
          fresh.map((i) => events[i]!.event_id),
        );
      }
    }
    // A replay racing its original is acknowledged only once the original is durable.
    await Promise.all(waits);
    if (++this.appendsSinceExpire >= 1000) {
      this.appendsSinceExpire = 0;
      this.dedupe.expire(now);
    }
    return { offsets };
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const jobs = this.queue.splice(0);
        try {
          const buffers = jobs.map((j) => j.data);
          const bytes = buffers.reduce((n, b) => n + b.length, 0);
          if (this.dirtyTail) {
            await this.active!.truncate(this.activeSize);
            this.dirtyTail = false;
          }
          if (this.activeSize > 0 && this.activeSize + bytes > this.options.segmentBytes) await this.rotate();
          if (this.dirUnsynced) {
            // The new segment's name must survive a crash as surely as the records that will be in it.
            await syncDir(this.fs, this.options.dir);
            this.dirUnsynced = false;
          }
          await this.writeAll(buffers, this.activeSize, bytes);
          await this.active!.datasync();
          let at = this.end;
          for (const job of jobs) {
            job.resolve(at);
            for (let k = 0; k < job.fresh.length; k++) {
              this.tail.push(at, job.ingestedAtMs, job.events[job.fresh[k]!]!);
              at += job.sizes[k]!;
            }
          }
          this.tail.end = this.end + bytes;
          this.activeSize += bytes;
          this.end += bytes;
          const last = this.segments[this.segments.length - 1]!;
          last.size = this.activeSize;
          last.mtimeMs = this.now();
          this.appendFault = undefined;
          for (const l of this.listeners) l();
        } catch (e) {
          this.appendFault = (e as Error).message ?? String(e);
          // Whatever reached the file unacknowledged is cut, so the next batch starts at a record boundary; if
          // the cut fails too, the next batch cuts first (stale records after a shorter batch would look valid).
          await this.active?.truncate(this.activeSize).catch(() => (this.dirtyTail = true));
          for (const job of jobs) job.reject(e);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** One writev for a group commit: the jobs' buffers are never copied into one. */
  private async writeAll(buffers: Buffer[], position: number, total: number): Promise<void> {
    let done = (await this.active!.writev(buffers, position)).bytesWritten;
    if (done === total) return;
    const rest = Buffer.concat(buffers);
    while (done < total) {
      const { bytesWritten } = await this.active!.write(rest, done, total - done, position + done);
      done += bytesWritten;
    }
  }

  /**
   * Starts a new segment at the end of the log. The log switches to it only once it is open, so a failure leaves
   * the old segment active and the next append tries again; its directory entry is fsync'd before the first write.
   */
  private async rotate(): Promise<void> {
    const file = path.join(this.options.dir, segmentName(this.end));
    const handle = await this.openNew(file);
    const old = this.active;
    this.active = handle;
    this.activeSize = 0;
    this.segments.push({ base: this.end, file, size: 0, mtimeMs: this.now(), format: 2 });
    this.dirUnsynced = true;
    await old?.close().catch(() => undefined);
  }

  /** Readiness: damage found (degraded) and whether the last append failed. */
  health(): LogHealth {
    const problems = this.damage.problems();
    if (this.appendFault !== undefined) problems.unshift(`event log cannot append: ${this.appendFault}`);
    return { appendable: this.appendFault === undefined, problems };
  }

  addAppendListener(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  compare(a: LogOffset, b: LogOffset): number {
    return Number(a) - Number(b);
  }

  private async knownSegments(refresh: boolean): Promise<SegmentInfo[]> {
    if (this.options.mode === 'reader' && refresh)
      this.segments = await listSegments(this.fs, this.options.dir);
    return this.segments;
  }

  private async position(from: LogOffset | StartAt): Promise<number> {
    if (typeof from === 'string' && from !== 'earliest' && from !== 'latest') {
      const n = Number(from);
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not an offset of the file log: ${from}`);
      return n;
    }
    const segments = await this.knownSegments(true);
    if (from === 'earliest') return segments[0]?.base ?? 0;
    const latest =
      this.options.mode === 'writer' ? this.end : (segments.at(-1)?.base ?? 0) + (segments.at(-1)?.size ?? 0);
    if (from === 'latest') return latest;
    if ('offset' in from) return this.position(from.offset);
    return segments.find((s) => s.mtimeMs >= from.sinceMs)?.base ?? latest;
  }

  async read(from: LogOffset | StartAt, max: number): Promise<ReadResult> {
    const pos = await this.position(from);
    if (max <= 0) return { records: [], next: String(pos) };
    const cached = this.options.mode === 'writer' ? this.tail.read(pos, max) : undefined;
    if (cached) return cached;
    const writer = this.options.mode === 'writer';
    return readSegments(
      {
        fs: this.fs,
        segments: (refresh) => this.knownSegments(refresh),
        followsWriter: !writer,
        ...(writer ? { durableEnd: this.end } : {}),
        onDamage: (file, d) => {
          const sealed = file !== this.segments.at(-1)?.file;
          const kind =
            this.segments.find((x) => x.file === file)?.format === 1
              ? 'format1'
              : sealed
                ? 'sealed'
                : 'active';
          return this.reportDamage(file, d, kind);
        },
      },
      pos,
      max,
    );
  }

  /**
   * A damaged offsets file (empty, truncated) is reported and answered with the earliest retained position: the
   * group reads again what it may have read (its handlers are idempotent) rather than skip anything.
   */
  async committed(group: string): Promise<LogOffset | undefined> {
    const stored = await this.offsets.get(group);
    if (stored === undefined || 'offset' in stored) return stored?.offset;
    await this.damage.report(
      'offsets',
      path.join('consumers', `${group}.json`),
      `${stored.damaged}; group ${group} starts again at the earliest retained record`,
    );
    return String(await this.position('earliest'));
  }

  async commit(group: string, next: LogOffset): Promise<void> {
    await this.offsets.set(group, next);
  }

  subscribe(group: string, handler: RecordHandler, options?: SubscribeOptions): Subscription {
    return new PollingSubscription(this, group, handler, options);
  }

  /** See retention.ts: the time bound always applies, and unread data deleted is reported in the result. */
  async enforceRetention(nowMs: number): Promise<RetentionResult> {
    if (this.options.mode !== 'writer') return { segmentsDeleted: 0, bytesDeleted: 0 };
    const waitFor = this.options.trimWaitsForGroups ?? [];
    const result = await enforceSegmentRetention(
      this.fs,
      this.segments,
      { ...this.options, waitFor },
      this.offsets,
      nowMs,
    );
    if (this.options.retentionMs > 0) {
      const journal = await this.forgets.trim(nowMs - this.options.retentionMs, waitFor);
      const held = new Set([...(result.heldFor ?? []), ...journal.heldFor]);
      if (held.size > 0) result.heldFor = [...held];
    }
    return result;
  }

  /**
   * The journal entry is written before the rewrite too: records redacted in place lose the customer id, so a
   * forget cut short between the rewrite and the entry would leave the lake no way to find that customer's orders.
   * The entry after the rewrite catches a record the lake writer compacted just before it was redacted.
   */
  async forget(request: ForgetRequest): Promise<ForgetResult> {
    const segments = await listSegments(this.fs, this.options.dir);
    const scope = await forgetScopeIn(this.fs, segments, request);
    await this.forgets.append(forgetResult(0, scope), this.now());
    const result = await forgetInSegments(this.fs, segments, request, scope);
    this.tail.clear();
    await this.forgets.append(result, this.now());
    for (const hook of this.hooks) await hook(request, result);
    return result;
  }

  onForget(hook: ForgetHook): void {
    this.hooks.push(hook);
  }

  claimLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.leases.claim(name, holder, ttlMs, this.now());
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.leases.release(name, holder);
  }

  async stats(): Promise<LogStats> {
    const segments = await this.knownSegments(this.options.mode === 'reader');
    const bytes = segments.reduce((a, s) => a + s.size, 0);
    const first = String(segments[0]?.base ?? 0);
    return { bytes, segments: segments.length, first, next: String(await this.position('latest')) };
  }

  /** Event ids remembered for deduplication: for a gauge. */
  get dedupeSize(): number {
    return this.dedupe.size;
  }

  /** Bytes the dedupe index holds (typed arrays): for a gauge. */
  get dedupeBytes(): number {
    return this.dedupe.bytes;
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.active?.close();
    this.active = undefined;
    if (this.lockFile) await this.fs.rm(this.lockFile, { force: true });
    this.lockFile = undefined;
  }
}
