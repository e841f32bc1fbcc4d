import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PollingSubscription, type PollingLog } from './consumer.js';
import { DedupeIndex } from './dedupe.js';
import { forgetInSegments } from './file-forget.js';
import { OffsetsStore } from './offsets-store.js';
import { decodeRecord, encodedJson, encodeRecord, parseEvent } from './record-codec.js';
import { listSegments, scanSegment, segmentAt, segmentName, type SegmentInfo } from './segments.js';
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
  events: EtaEvent[];
  buffers: Buffer[];
  resolve: (positions: number[]) => void;
  reject: (e: unknown) => void;
}

const READ_CHUNK = 256 * 1024;
/** Records kept in memory after their append, so consumers in the writing process read the tail without I/O. */
const TAIL_RECORDS = 50_000;

/** The event_id comes first in every record's JSON, so the dedupe index rebuilds without parsing whole events. */
function eventIdOf(json: Buffer): string | undefined {
  const head = json.subarray(0, 160).toString('utf8');
  const m = /^\{"event_id":("(?:[^"\\]|\\.)*")/.exec(head);
  return m ? (JSON.parse(m[1]!) as string) : undefined;
}

function encodeEvent(e: EtaEvent): Buffer {
  const known = encodedJson.get(e);
  if (known !== undefined) return Buffer.from(known);
  const { event_id, ...rest } = e;
  return Buffer.from(JSON.stringify({ event_id, ...rest }));
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
      this.options.onRepair?.({ file: path.basename(last.file), keptBytes: scan.validBytes, cutBytes: last.size - scan.validBytes, reason: scan.stoppedBy ?? 'torn' });
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

  async append(events: readonly EtaEvent[]): Promise<AppendResult> {
    if (!this.active) throw new Error(this.options.mode === 'reader' ? 'this process reads the event log; another writes it' : 'the event log is not open');
    const now = this.now();
    const offsets: Array<LogOffset | null> = new Array<LogOffset | null>(events.length).fill(null);
    const buffers: Buffer[] = [];
    const accepted: EtaEvent[] = [];
    const fresh: number[] = [];
    const waits: Promise<unknown>[] = [];
    const inBatch = new Set<string>();
    for (let i = 0; i < events.length; i++) {
      const id = events[i]!.event_id;
      if (inBatch.has(id)) continue;
      if (this.dedupe.has(id, now)) {
        const pending = this.dedupe.pendingWrite(id);
        if (pending) waits.push(pending);
        continue;
      }
      inBatch.add(id);
      fresh.push(i);
      buffers.push(encodeRecord(encodeEvent(events[i]!), now));
      accepted.push(events[i]!);
    }
    if (buffers.length > 0) {
      const write = new Promise<number[]>((resolve, reject) => this.queue.push({ ingestedAtMs: now, events: accepted, buffers, resolve, reject }));
      for (const id of inBatch) this.dedupe.markPending(id, write);
      this.flushing ??= this.flush();
      try {
        const positions = await write;
        for (let k = 0; k < fresh.length; k++) offsets[fresh[k]!] = String(positions[k]!);
      } finally {
        const durable = offsets[fresh[0]!] !== null;
        for (const id of inBatch) this.dedupe.settle(id, durable, now);
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
          const data = Buffer.concat(jobs.flatMap((j) => j.buffers));
          if (this.activeSize > 0 && this.activeSize + data.length > this.options.segmentBytes) await this.rotate();
          await this.writeAll(data, this.activeSize);
          await this.active!.datasync();
          let at = this.end;
          for (const job of jobs) {
            const positions = job.buffers.map((b) => {
              const p = at;
              at += b.length;
              return p;
            });
            job.resolve(positions);
            for (let k = 0; k < positions.length; k++) {
              this.tail.push(positions[k]!, { offset: String(positions[k]!), ingestedAtMs: job.ingestedAtMs, event: job.events[k]! });
            }
          }
          this.tail.end = this.end + data.length;
          this.activeSize += data.length;
          this.end += data.length;
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

  private async writeAll(data: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.active!.write(data, done, data.length - done, position + done);
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
    const latest = this.options.mode === 'writer' ? this.end : (segments.at(-1)?.base ?? 0) + (segments.at(-1)?.size ?? 0);
    if (from === 'latest') return latest;
    if ('offset' in from) return this.position(from.offset);
    return segments.find((s) => s.mtimeMs >= from.sinceMs)?.base ?? latest;
  }

  async read(from: LogOffset | StartAt, max: number): Promise<ReadResult> {
    let pos = await this.position(from);
    const records: LogRecord[] = [];
    if (max <= 0) return { records, next: String(pos) };
    const cached = this.options.mode === 'writer' ? this.tail.read(pos, max) : undefined;
    if (cached) return cached;
    let segments = await this.knownSegments(this.options.mode === 'reader');
    for (let guard = 0; guard < 10_000 && records.length < max; guard++) {
      let i = segmentAt(segments, pos);
      if (i < 0) {
        if (segments.length === 0) break;
        pos = segments[0]!.base;
        i = 0;
      }
      const seg = segments[i]!;
      const isLast = i === segments.length - 1;
      const limit = this.options.mode === 'writer' && isLast ? this.end - seg.base : Number.POSITIVE_INFINITY;
      let chunk: { buf: Buffer; fileSize: number };
      try {
        chunk = await readChunk(seg.file, pos - seg.base, limit);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        segments = await this.knownSegments(true); // retention removed it: start over at the oldest kept
        if (segments.length === 0 || segments[0]!.base > pos) {
          pos = segments[0]?.base ?? pos;
          continue;
        }
        break;
      }
      let at = 0;
      let stop: 'partial' | 'corrupt' | undefined;
      while (records.length < max) {
        const d = decodeRecord(chunk.buf, at);
        if (d.kind !== 'record') {
          stop = d.kind;
          break;
        }
        records.push({ offset: String(pos + at), ingestedAtMs: d.ingestedAtMs, event: parseEvent(d.json) });
        at += d.bytes;
      }
      pos += at;
      if (records.length >= max) break;
      const atFileEnd = pos - seg.base >= Math.min(chunk.fileSize, limit);
      if (stop === 'partial' && at > 0 && !atFileEnd) continue; // the chunk ended mid-record
      const nextSeg = segments[i + 1] ?? (this.options.mode === 'reader' ? (segments = await this.knownSegments(true))[i + 1] : undefined);
      // A sealed segment ends where its successor begins; damage inside one is skipped, never waited on.
      if (nextSeg && (atFileEnd || stop !== undefined)) {
        pos = nextSeg.base;
        continue;
      }
      break;
    }
    return { records, next: String(pos) };
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

/** The newest records, by position, as appended: a read inside it is served from memory. */
class TailCache {
  private positions: number[] = [];
  private records: LogRecord[] = [];
  end = 0;

  constructor(private readonly capacity: number) {}

  push(position: number, record: LogRecord): void {
    this.positions.push(position);
    this.records.push(record);
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

async function readChunk(file: string, at: number, limit: number): Promise<{ buf: Buffer; fileSize: number }> {
  const handle = await fs.open(file, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const upTo = Math.min(fileSize, limit);
    let want = Math.max(0, Math.min(READ_CHUNK, upTo - at));
    let buf = Buffer.allocUnsafe(want);
    let { bytesRead } = await handle.read(buf, 0, want, at);
    // One record larger than the chunk: read exactly it.
    if (bytesRead >= 4) {
      const need = 16 + buf.readUInt32LE(0);
      if (need > bytesRead && need <= upTo - at && need <= 16 * 1024 * 1024) {
        want = need;
        buf = Buffer.allocUnsafe(want);
        ({ bytesRead } = await handle.read(buf, 0, want, at));
      }
    }
    return { buf: buf.subarray(0, bytesRead), fileSize };
  } finally {
    await handle.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
