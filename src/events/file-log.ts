import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PollingSubscription, type PollingLog } from './consumer.js';
import { DedupeIndex, DURABLE, FRESH } from './dedupe.js';
import { forgetInSegments } from './file-forget.js';
import { OffsetsStore } from './offsets-store.js';
import { encodeRecords } from './record-codec.js';
import { alive, eventIdOf } from './segment-io.js';
import { readSegments } from './segment-reader.js';
import { TAIL_RECORDS, TailCache } from './tail-cache.js';
import { listSegments, scanSegment, segmentName, type SegmentInfo } from './segments.js';
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
  dedupeWindowMs: number;
  dedupeMaxIds: number;
  now?: () => number;
  /** Told when open cut a torn tail, so it is logged. */
  onRepair?: (info: { file: string; keptBytes: number; cutBytes: number; reason: string }) => void;
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
 * The embedded event log: append-only segment files with a length and CRC32 per record. Appends are group
 * committed (every append waiting while an fsync runs shares the next one) and acknowledged after the fsync.
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

  constructor(private readonly options: FileLogOptions) {
    this.now = options.now ?? Date.now;
    this.dedupe = new DedupeIndex(options.dedupeWindowMs, options.dedupeMaxIds);
    this.offsets = new OffsetsStore(path.join(options.dir, 'consumers'));
  }

  get dir(): string {
    return this.options.dir;
  }

  async open(): Promise<void> {
    await fs.mkdir(this.options.dir, { recursive: true });
    this.segments = await listSegments(this.options.dir);
    if (this.options.mode === 'reader') return;
    await this.lock();
    if (this.segments.length === 0) this.segments.push(await this.createSegment(0));
    const last = this.segments[this.segments.length - 1]!;
    const scan = await scanSegment(last.file);
    if (scan.validBytes < last.size) {
      await fs.truncate(last.file, scan.validBytes);
      this.options.onRepair?.({
        file: path.basename(last.file),
        keptBytes: scan.validBytes,
        cutBytes: last.size - scan.validBytes,
        reason: scan.stoppedBy ?? 'torn',
      });
      last.size = scan.validBytes;
    }
    this.active = await fs.open(last.file, 'r+');
    await this.active.datasync();
    this.activeSize = last.size;
    this.end = last.base + last.size;
    await this.rebuildDedupe();
  }

  /** Replays the ids of the segments written within the dedupe window, so a replay after a restart is still a no-op. */
  private async rebuildDedupe(): Promise<void> {
    const since = this.now() - this.options.dedupeWindowMs;
    for (const seg of this.segments) {
      if (seg.mtimeMs < since && seg !== this.segments[this.segments.length - 1]) continue;
      await scanSegment(seg.file, (_pos, at, json) => {
        const id = eventIdOf(json);
        if (id !== undefined && at >= since) this.dedupe.add(id, at);
      });
    }
  }

  private async lock(): Promise<void> {
    const file = path.join(this.options.dir, 'writer.lock');
    try {
      const pid = Number(await fs.readFile(file, 'utf8'));
      if (pid && pid !== process.pid && alive(pid)) {
        throw new Error(`the event log in ${this.options.dir} is being written by process ${pid}`);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await fs.writeFile(file, String(process.pid));
    this.lockFile = file;
  }

  private async createSegment(base: number): Promise<SegmentInfo> {
    const file = path.join(this.options.dir, segmentName(base));
    const handle = await fs.open(file, 'wx');
    await handle.close();
    // The new name must survive a crash as surely as the records that will be in it.
    const dir = await fs.open(this.options.dir, 'r');
    await dir.sync().finally(() => dir.close());
    return { base, file, size: 0, mtimeMs: this.now() };
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
        this.dedupe.settle(write, durable, fresh.length);
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
          if (this.activeSize > 0 && this.activeSize + bytes > this.options.segmentBytes) await this.rotate();
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
          for (const l of this.listeners) l();
        } catch (e) {
          // Whatever reached the file unacknowledged is cut, so the next batch starts at a record boundary.
          await this.active?.truncate(this.activeSize).catch(() => undefined);
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

  private async rotate(): Promise<void> {
    await this.active!.close();
    const seg = await this.createSegment(this.end);
    this.segments.push(seg);
    this.active = await fs.open(seg.file, 'r+');
    this.activeSize = 0;
  }

  addAppendListener(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  compare(a: LogOffset, b: LogOffset): number {
    return Number(a) - Number(b);
  }

  private async knownSegments(refresh: boolean): Promise<SegmentInfo[]> {
    if (this.options.mode === 'reader' && refresh) this.segments = await listSegments(this.options.dir);
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
        segments: (refresh) => this.knownSegments(refresh),
        followsWriter: !writer,
        ...(writer ? { durableEnd: this.end } : {}),
      },
      pos,
      max,
    );
  }

  async committed(group: string): Promise<LogOffset | undefined> {
    return this.offsets.get(group);
  }

  async commit(group: string, next: LogOffset): Promise<void> {
    await this.offsets.set(group, next);
  }

  subscribe(group: string, handler: RecordHandler, options?: SubscribeOptions): Subscription {
    return new PollingSubscription(this, group, handler, options);
  }

  async enforceRetention(nowMs: number): Promise<RetentionResult> {
    const result: RetentionResult = { segmentsDeleted: 0, bytesDeleted: 0 };
    if (this.options.mode !== 'writer') return result;
    const { retentionMs, maxDiskBytes } = this.options;
    let total = this.segments.reduce((a, s) => a + s.size, 0);
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      const expired = retentionMs > 0 && nowMs - oldest.mtimeMs > retentionMs;
      const over = maxDiskBytes > 0 && total > maxDiskBytes;
      if (!expired && !over) break;
      await fs.rm(oldest.file, { force: true });
      this.segments.shift();
      total -= oldest.size;
      result.segmentsDeleted++;
      result.bytesDeleted += oldest.size;
    }
    return result;
  }

  async forget(request: ForgetRequest): Promise<ForgetResult> {
    const result = await forgetInSegments(await listSegments(this.options.dir), request);
    this.tail.clear();
    for (const hook of this.hooks) await hook(request, result);
    return result;
  }

  onForget(hook: ForgetHook): void {
    this.hooks.push(hook);
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

  async close(): Promise<void> {
    await this.flushing;
    await this.active?.close();
    this.active = undefined;
    if (this.lockFile) await fs.rm(this.lockFile, { force: true });
    this.lockFile = undefined;
  }
}
