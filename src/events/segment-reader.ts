import { decodeRecord, parseEvent } from './record-codec.js';
import { readChunk } from './segment-io.js';
import { segmentAt, type SegmentInfo } from './segments.js';
import type { LogRecord, ReadResult } from './types.js';

export interface SegmentView {
  /** The segments, listed again when `refresh` and the view follows another process's writes. */
  segments(refresh: boolean): Promise<SegmentInfo[]>;
  /** A reader in another process than the writer: new segments appear under it. */
  followsWriter: boolean;
  /** The writer's own end of durable data: a read never returns what is not yet acknowledged. */
  durableEnd?: number;
}

/**
 * Up to `max` records from byte position `pos` on, crossing segment boundaries. Stops at the end of the data, or at
 * a record still being written (short or failing its CRC) in the newest segment, to be read again later.
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
      chunk = await readChunk(seg.file, pos - seg.base, limit);
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
    const nextSeg =
      segments[i + 1] ?? (view.followsWriter ? (segments = await view.segments(true))[i + 1] : undefined);
    // A sealed segment ends where its successor begins; damage inside one is skipped, never waited on.
    if (nextSeg && (atFileEnd || stop !== undefined)) {
      pos = nextSeg.base;
      continue;
    }
    break;
  }
  return { records, next: String(pos) };
}
