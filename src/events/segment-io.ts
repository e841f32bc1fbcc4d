import { promises as fs } from 'node:fs';
import { HEADER_BYTES, MAX_RECORD_BYTES } from './record-codec.js';

/** Bytes read per disk read of a segment: a few hundred records. */
const READ_CHUNK = 256 * 1024;

/** Up to READ_CHUNK bytes of a segment from `at`, never past `limit`; a single larger record is read whole. */
export async function readChunk(
  file: string,
  at: number,
  limit: number,
): Promise<{ buf: Buffer; fileSize: number }> {
  const handle = await fs.open(file, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const upTo = Math.min(fileSize, limit);
    let want = Math.max(0, Math.min(READ_CHUNK, upTo - at));
    let buf = Buffer.allocUnsafe(want);
    let { bytesRead } = await handle.read(buf, 0, want, at);
    // One record larger than the chunk: read exactly it.
    if (bytesRead >= 4) {
      const need = HEADER_BYTES + buf.readUInt32LE(0);
      if (need > bytesRead && need <= upTo - at && need <= MAX_RECORD_BYTES) {
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
