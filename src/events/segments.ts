import path from 'node:path';
import type { FsLike } from './fs-like.js';
import { decodeRecord, formatOf, MAGIC, nextMarker, type Format } from './record-codec.js';

/**
 * Segment files: `<base>.seg`, where base is the byte position of the segment's first record across the whole log
 * (20 digits, so names sort). A record's offset is its global byte position, stable under retention and redaction.
 */
export interface SegmentInfo {
  base: number;
  file: string;
  size: number;
  mtimeMs: number;
  /** Known once read: format 1 segments were written before records had a marker (record-codec.ts). */
  format?: Format;
}

const NAME = /^(\d{20})\.seg$/;

export const segmentName = (base: number): string => `${String(base).padStart(20, '0')}.seg`;

export async function listSegments(fs: FsLike, dir: string): Promise<SegmentInfo[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: SegmentInfo[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    try {
      const st = await fs.stat(file);
      out.push({ base: Number(m[1]), file, size: st.size, mtimeMs: st.mtimeMs });
    } catch (e) {
      // Deleted by retention between readdir and stat.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return out.sort((a, b) => a.base - b.base);
}

/** The segment holding `position`: the last whose base is not after it. */
export function segmentAt(segments: readonly SegmentInfo[], position: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (segments[mid]!.base <= position) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Bytes of a segment that are not whole records, by file offset. */
export interface Damage {
  at: number;
  bytes: number;
  reason: string;
}

export interface ScanResult {
  format: Format;
  size: number;
  /** Whole, valid records seen. */
  records: number;
  /** The end of the last valid record: what a torn tail is cut back to. */
  validBytes: number;
  /** Damaged ranges with a valid record after them: never cut, the records after them are kept. */
  damage: Damage[];
  /** Bytes after the last valid record with nothing valid after them: a torn write, or damage of format 1. */
  tail?: Damage;
}

/**
 * Walks a segment's records, handing each to `visit`. A damaged record is stepped over: the walk looks for the next
 * record marker whose record is whole and passes its CRC, so one bad byte costs one record, not the rest of the
 * file. What follows the last valid record is reported as `tail` (the writer cuts that at open: nothing there was
 * acknowledged, since every batch is fsync'd before the next is written).
 */
export async function scanSegment(
  fs: FsLike,
  file: string,
  visit?: (position: number, ingestedAtMs: number, json: Buffer, format: Format) => void,
  chunkBytes = 4 * 1024 * 1024,
): Promise<ScanResult> {
  const handle = await fs.open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    let buf = Buffer.alloc(0);
    let base = 0; // file offset of buf[0]
    let at = 0;
    let readTo = 0;
    const more = async (): Promise<boolean> => {
      if (readTo >= size) return false;
      const want = Math.min(chunkBytes, size - readTo);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(chunk, 0, want, readTo);
      if (bytesRead === 0) return false;
      readTo += bytesRead;
      buf = Buffer.concat([buf.subarray(at), chunk.subarray(0, bytesRead)]);
      base += at;
      at = 0;
      return true;
    };
    await more();
    const format = formatOf(buf.subarray(0, MAGIC.length));
    let records = 0;
    let validBytes = 0;
    const damage: Damage[] = [];
    let bad: { at: number; reason: string } | undefined;
    for (;;) {
      if (at >= buf.length && !(await more())) break;
      const d = decodeRecord(buf, at, format);
      if (d.kind === 'record') {
        if (bad) damage.push({ at: bad.at, bytes: base + at - bad.at, reason: bad.reason });
        bad = undefined;
        visit?.(base + at, d.ingestedAtMs, d.json, format);
        at += d.bytes;
        records++;
        validBytes = base + at;
        continue;
      }
      if (d.kind === 'partial' && (await more())) continue;
      bad ??= { at: base + at, reason: d.kind === 'partial' ? 'torn record' : d.reason };
      let q = nextMarker(buf, at + 1, format);
      while (q < 0 && format === 2) {
        // A marker may straddle two chunks: keep its first bytes.
        at = Math.max(at + 1, buf.length - (MAGIC.length - 1));
        if (!(await more())) break;
        q = nextMarker(buf, at, format);
      }
      if (q < 0) break;
      at = q;
    }
    const tail = bad ? { at: bad.at, bytes: size - bad.at, reason: bad.reason } : undefined;
    return { format, size, records, validBytes, damage, ...(tail ? { tail } : {}) };
  } finally {
    await handle.close();
  }
}
