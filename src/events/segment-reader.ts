import type { FsLike } from './fs-like.js';
import { decodeRecord, parseEvent } from './record-codec.js';
import { findNextRecord, readChunk, readFormat } from './segment-io.js';
import { segmentAt, type Damage, type SegmentInfo } from './segments.js';
import type { LogRecord, ReadResult } from './types.js';

export interface SegmentView {
  fs: FsLike;
  /** The segments, listed again when `refresh` and the view follows another process's writes. */
  segments(refresh: boolean): Promise<SegmentInfo[]>;
  /** A reader in another process than the writer: new segments appear under it. */
  followsWriter: boolean;
  /** The writer's own end of durable data: a read never returns what is not yet acknowledged. */
  durableEnd?: number;
  /** Told of damage a read stepped over, so it is reported (never skipped silently). */
  onDamage(file: string, damage: Damage): Promise<void>;
}

/**
 * Up to `max` records from byte position `pos` on, crossing segment boundaries. Stops at the end of the data, or at
 * a record still being written in the newest segment of another process's writer, to be read again later. A
 * damaged record is reported and stepped over to the next valid one: the records after it are still read.
 */
export async function readSegments(view: SegmentView, start: number, max: number): Promise<ReadResult> {
  let pos = start;
  const records: LogRecord[] = [];
  let segments = await view.segments(view.followsWriter);
  for (let guard = 0; guard < 10_000 && records.length < max; guard++) {
    let i = segmentAt(segments, pos);
    if (i < 0) {
      if (segments.length === 0) break;
      pos = segments[0]!.base;
      i = 0;
    }
    const seg = segments[i]!;
    const isLast = i === segments.length - 1;
    const limit =
      view.durableEnd !== undefined && isLast ? view.durableEnd - seg.base : Number.POSITIVE_INFINITY;
    let chunk: { buf: Buffer; fileSize: number };
    try {
      seg.format ??= await readFormat(view.fs, seg.file);
      chunk = await readChunk(view.fs, seg.file, pos - seg.base, limit, seg.format);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      segments = await view.segments(true); // retention removed it: start over at the oldest kept
      if (segments.length === 0 || segments[0]!.base > pos) {
        pos = segments[0]?.base ?? pos;
        continue;
      }
      break;
    }
    let at = 0;
    let stop: { kind: 'partial' | 'corrupt'; reason: string } | undefined;
    while (records.length < max) {
      const d = decodeRecord(chunk.buf, at, seg.format);
      if (d.kind !== 'record') {
        stop = d.kind === 'partial' ? { kind: 'partial', reason: 'torn record' } : d;
        break;
      }
      records.push({ offset: String(pos + at), ingestedAtMs: d.ingestedAtMs, event: parseEvent(d.json) });
      at += d.bytes;
    }
    const chunkEnd = pos - seg.base + chunk.buf.length;
    pos += at;
    if (records.length >= max) break;
    const end = Math.min(chunk.fileSize, limit);
    const atFileEnd = pos - seg.base >= end;
    if (stop?.kind === 'partial' && chunkEnd < end) continue; // the chunk ended mid-record
    const nextSeg =
      segments[i + 1] ?? (view.followsWriter ? (segments = await view.segments(true))[i + 1] : undefined);
    if (stop === undefined || atFileEnd) {
      // The end of this segment's data: a sealed segment ends where its successor begins.
      if (nextSeg && atFileEnd) {
        pos = nextSeg.base;
        continue;
      }
      break;
    }
    // Bytes that are not a record. In the newest segment of another process's writer they may be a write still
    // in progress: wait for it unless a valid record already follows them.
    const from = pos - seg.base;
    const next = await findNextRecord(view.fs, seg.file, from, end, seg.format);
    if (next === from) continue; // whole now (it was being rewritten by a redaction)
    const inProgress = !nextSeg && view.durableEnd === undefined;
    if (next === undefined && inProgress) break;
    const upTo = next ?? end;
    if (Number.isFinite(upTo))
      await view.onDamage(seg.file, { at: from, bytes: upTo - from, reason: stop.reason });
    if (next !== undefined) pos = seg.base + next;
    else if (nextSeg) pos = nextSeg.base;
    else {
      pos = seg.base + end;
      break;
    }
  }
  return { records, next: String(pos) };
}
