import type { FileHandle } from 'node:fs/promises';
import type { FsLike } from './fs-like.js';
import {
  decodeRecord,
  formatOf,
  HEADER_BYTES,
  MAGIC,
  MAX_RECORD_BYTES,
  V1_HEADER_BYTES,
  type Format,
} from './record-codec.js';

/** Bytes read per disk read of a segment: a few hundred records. */
const READ_CHUNK = 256 * 1024;

/** Up to READ_CHUNK bytes of a segment from `at`, never past `limit`; a single larger record is read whole. */
export async function readChunk(
  fs: FsLike,
  file: string,
  at: number,
  limit: number,
  format: Format,
): Promise<{ buf: Buffer; fileSize: number }> {
  const handle = await fs.open(file, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const upTo = Math.min(fileSize, limit);
    let want = Math.max(0, Math.min(READ_CHUNK, upTo - at));
    let buf = Buffer.allocUnsafe(want);
    let { bytesRead } = await handle.read(buf, 0, want, at);
    // One record larger than the chunk: read exactly it.
    const header = format === 2 ? HEADER_BYTES : V1_HEADER_BYTES;
    if (bytesRead >= header) {
      const need = header + buf.readUInt32LE(format === 2 ? 8 : 0);
      if (need > bytesRead && need <= upTo - at && need <= MAX_RECORD_BYTES + header) {
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

/** A segment's format, from its first bytes. */
export async function readFormat(fs: FsLike, file: string): Promise<Format> {
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return formatOf(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

async function wholeRecordAt(handle: FileHandle, at: number, end: number): Promise<boolean> {
  if (end - at < HEADER_BYTES) return false;
  const head = Buffer.allocUnsafe(HEADER_BYTES);
  await handle.read(head, 0, HEADER_BYTES, at);
  const length = head.readUInt32LE(8);
  if (length === 0 || length > MAX_RECORD_BYTES || at + HEADER_BYTES + length > end) return false;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + length);
  const { bytesRead } = await handle.read(buf, 0, buf.length, at);
  return decodeRecord(buf.subarray(0, bytesRead), 0, 2).kind === 'record';
}

/**
 * The file offset of the first whole, valid record at or after `from` and before `end`, or undefined. `from` itself
 * is read again first: a record being redacted in place fails its CRC for a moment and is not damage. Format 1
 * has no marker to look for: nothing is found after damage there.
 */
export async function findNextRecord(
  fs: FsLike,
  file: string,
  from: number,
  end: number,
  format: Format,
): Promise<number | undefined> {
  if (format === 1) return undefined;
  const handle = await fs.open(file, 'r');
  try {
    end = Math.min(end, (await handle.stat()).size);
    if (await wholeRecordAt(handle, from, end)) return from;
    let at = from + 1;
    while (at < end) {
      const want = Math.min(READ_CHUNK, end - at);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(chunk, 0, want, at);
      if (bytesRead === 0) return undefined;
      const buf = chunk.subarray(0, bytesRead);
      for (let q = buf.indexOf(MAGIC, 0); q >= 0; q = buf.indexOf(MAGIC, q + 1)) {
        if (await wholeRecordAt(handle, at + q, end)) return at + q;
      }
      // A marker may straddle the chunk's end: keep its first bytes.
      at += Math.max(1, bytesRead - (MAGIC.length - 1));
    }
    return undefined;
  } finally {
    await handle.close();
  }
}

/** The event_id comes first in every record's JSON, so the dedupe index rebuilds without parsing whole events. */
export function eventIdOf(json: Buffer): string | undefined {
  const head = json.subarray(0, 160).toString('utf8');
  const m = /^\{"event_id":("(?:[^"\\]|\\.)*")/.exec(head);
  return m ? (JSON.parse(m[1]!) as string) : undefined;
}

/** Whether a process of this id runs (a writer lock left by a crashed process is stale). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
