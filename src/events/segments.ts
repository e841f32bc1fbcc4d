import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decodeRecord } from './record-codec.js';

/**
 * Segment files: `<base>.seg`, where base is the byte position of the segment's first record across the whole log
 * (20 digits, so names sort). A record's offset is its global byte position, stable under retention and redaction.
 */
export interface SegmentInfo {
  base: number;
  file: string;
  size: number;
  mtimeMs: number;
}

const NAME = /^(\d{20})\.seg$/;

export const segmentName = (base: number): string => `${String(base).padStart(20, '0')}.seg`;

export async function listSegments(dir: string): Promise<SegmentInfo[]> {
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

export interface ScanResult {
  /** Bytes of whole, valid records from the start of the file. */
  validBytes: number;
  records: number;
  /** Why the scan stopped before the end of the file, if it did. */
  stoppedBy?: string;
}

/**
 * Walks a segment's records, handing each to `visit`, and stops at the first that is torn or corrupt. The writer
 * truncates the file to `validBytes` at open: nothing after a bad record was acknowledged, because every batch is
 * fsync'd before the next is written.
 */
export async function scanSegment(
  file: string,
  visit?: (position: number, ingestedAtMs: number, json: Buffer) => void,
  chunkBytes = 4 * 1024 * 1024,
): Promise<ScanResult> {
  const handle = await fs.open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    let pos = 0;
    let records = 0;
    let carry = Buffer.alloc(0);
    let carryAt = 0;
    while (carryAt + carry.length < size) {
      const want = Math.min(chunkBytes, size - carryAt - carry.length);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(chunk, 0, want, carryAt + carry.length);
      const buf = carry.length
        ? Buffer.concat([carry, chunk.subarray(0, bytesRead)])
        : chunk.subarray(0, bytesRead);
      let at = 0;
      for (;;) {
        const d = decodeRecord(buf, at);
        if (d.kind === 'record') {
          visit?.(carryAt + at, d.ingestedAtMs, d.json);
          at += d.bytes;
          records++;
          continue;
        }
        if (d.kind === 'corrupt') return { validBytes: carryAt + at, records, stoppedBy: d.reason };
        break;
      }
      carry = buf.subarray(at);
      carryAt += at;
      pos = carryAt;
      if (bytesRead === 0) break;
    }
    if (pos < size) return { validBytes: pos, records, stoppedBy: 'torn record at the tail' };
    return { validBytes: pos, records };
  } finally {
    await handle.close();
  }
}
