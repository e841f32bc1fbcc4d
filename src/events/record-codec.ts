import zlib from 'node:zlib';
import { CURRENT_SCHEMA_VERSION } from './schemas.js';
import type { EncodedEvents, EtaEvent } from './types.js';

/**
 * One record on disk (format 2): `magic 4 | crc32 u32 | length u32 | ingestedAtMs f64 | event JSON`, little endian.
 * The CRC covers the length, the timestamp and the JSON. The magic lets a reader find the next record after a
 * damaged one: its bytes (0xe7 'L' 'G' 0x02) cannot occur in UTF-8 JSON (0xe7 must be followed by a continuation
 * byte, and 0x02 is escaped in JSON strings), and its last byte is the format version.
 *
 * Format 1 (before the magic): `length u32 | crc32 u32 | ingestedAtMs f64 | JSON`, the CRC over timestamp and JSON.
 * A segment is format 1 when it does not start with the magic (a format-1 length is at most 16 MiB, so its fourth
 * byte is 0 or 1, never 0x02 after 0xe7 'L' 'G'). Format-1 segments are still read; new records are always format 2.
 */
export const MAGIC = Buffer.from([0xe7, 0x4c, 0x47, 0x02]);
export const HEADER_BYTES = 20;
export const V1_HEADER_BYTES = 16;
/** A length beyond this is garbage, not a record: no event may be this large. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
export type Format = 1 | 2;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32Table(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** node:zlib has crc32 from Node 20.15 (native, ~10x faster); engines allow 20.9, so keep the table as fallback. */
const nativeCrc = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
export const crc32: (data: Uint8Array) => number = nativeCrc ? (d) => nativeCrc(d) >>> 0 : crc32Table;

/** The format of a segment whose first bytes are `head` (an empty segment is written in format 2). */
export function formatOf(head: Buffer): Format {
  if (head.length === 0) return 2;
  const n = Math.min(head.length, MAGIC.length);
  return head.subarray(0, n).equals(MAGIC.subarray(0, n)) ? 2 : 1;
}

export function encodeRecord(json: Buffer, ingestedAtMs: number, format: Format = 2): Buffer {
  if (format === 1) {
    const buf = Buffer.allocUnsafe(V1_HEADER_BYTES + json.length);
    buf.writeUInt32LE(json.length, 0);
    buf.writeDoubleLE(ingestedAtMs, 8);
    json.copy(buf, V1_HEADER_BYTES);
    buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
    return buf;
  }
  const buf = Buffer.allocUnsafe(HEADER_BYTES + json.length);
  MAGIC.copy(buf, 0);
  buf.writeUInt32LE(json.length, 8);
  buf.writeDoubleLE(ingestedAtMs, 12);
  json.copy(buf, HEADER_BYTES);
  buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
  return buf;
}

export type Decoded =
  | { kind: 'record'; bytes: number; ingestedAtMs: number; json: Buffer }
  /** Fewer bytes than the header or the length asks for: a tail still being written, or torn. */
  | { kind: 'partial'; need: number }
  /** A magic, length or checksum that cannot be a record. */
  | { kind: 'corrupt'; reason: string };

export function decodeRecord(buf: Buffer, at: number, format: Format = 2): Decoded {
  if (format === 1) return decodeV1(buf, at);
  const have = buf.length - at;
  const head = Math.min(have, MAGIC.length);
  for (let i = 0; i < head; i++)
    if (buf[at + i] !== MAGIC[i]) return { kind: 'corrupt', reason: 'no record marker' };
  if (have < HEADER_BYTES) return { kind: 'partial', need: HEADER_BYTES };
  const length = buf.readUInt32LE(at + 8);
  if (length === 0 || length > MAX_RECORD_BYTES) return { kind: 'corrupt', reason: `bad length ${length}` };
  if (have < HEADER_BYTES + length) return { kind: 'partial', need: HEADER_BYTES + length };
  if (crc32(buf.subarray(at + 8, at + HEADER_BYTES + length)) !== buf.readUInt32LE(at + 4))
    return { kind: 'corrupt', reason: 'checksum mismatch' };
  return {
    kind: 'record',
    bytes: HEADER_BYTES + length,
    ingestedAtMs: buf.readDoubleLE(at + 12),
    json: buf.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length),
  };
}

function decodeV1(buf: Buffer, at: number): Decoded {
  if (buf.length - at < V1_HEADER_BYTES) return { kind: 'partial', need: V1_HEADER_BYTES };
  const length = buf.readUInt32LE(at);
  if (length === 0 || length > MAX_RECORD_BYTES) return { kind: 'corrupt', reason: `bad length ${length}` };
  if (buf.length - at < V1_HEADER_BYTES + length) return { kind: 'partial', need: V1_HEADER_BYTES + length };
  const crc = buf.readUInt32LE(at + 4);
  if (crc32(buf.subarray(at + 8, at + V1_HEADER_BYTES + length)) !== crc)
    return { kind: 'corrupt', reason: 'checksum mismatch' };
  return {
    kind: 'record',
    bytes: V1_HEADER_BYTES + length,
    ingestedAtMs: buf.readDoubleLE(at + 8),
    json: buf.subarray(at + V1_HEADER_BYTES, at + V1_HEADER_BYTES + length),
  };
}

/** Where the next record marker after `from` is in `buf`, or -1. Format 1 has none: damage there ends the segment. */
export function nextMarker(buf: Buffer, from: number, format: Format): number {
  return format === 2 ? buf.indexOf(MAGIC, from) : -1;
}

export function parseEvent(json: Buffer): EtaEvent {
  return JSON.parse(json.toString('utf8')) as EtaEvent;
}

const VERSION_SUFFIX = Buffer.from(`,"schema_version":${CURRENT_SCHEMA_VERSION}}`);

/** An event's JSON with `event_id` first, as the log stores it (`eventIdOf` reads ids without parsing). */
export function jsonOfEvent(e: EtaEvent): string {
  for (const first in e) {
    if (first === 'event_id') return JSON.stringify(e);
    break;
  }
  const { event_id, ...rest } = e;
  return JSON.stringify({ event_id, ...rest });
}

/**
 * The records of `events[picked[k]]`, k in order, in one buffer; `sizes[k]` is record k's length. Received bytes
 * are copied as they are; only events without them are serialised.
 */
export function encodeRecords(
  events: readonly EtaEvent[],
  picked: readonly number[],
  encoded: EncodedEvents | undefined,
  ingestedAtMs: number,
): { data: Buffer; sizes: Uint32Array } {
  const sizes = new Uint32Array(picked.length);
  const json: Array<string | undefined> = new Array<string | undefined>(picked.length);
  let total = 0;
  for (let k = 0; k < picked.length; k++) {
    const i = picked[k]!;
    let length: number;
    if (encoded !== undefined && encoded.end[i]! > 0) {
      length = encoded.end[i]! - encoded.start[i]!;
      if (encoded.addVersion[i] === 1) length += VERSION_SUFFIX.length - 1;
    } else {
      json[k] = jsonOfEvent(events[i]!);
      length = Buffer.byteLength(json[k]!);
    }
    sizes[k] = HEADER_BYTES + length;
    total += HEADER_BYTES + length;
  }
  const data = Buffer.allocUnsafe(total);
  let p = 0;
  for (let k = 0; k < picked.length; k++) {
    const i = picked[k]!;
    const length = sizes[k]! - HEADER_BYTES;
    MAGIC.copy(data, p);
    data.writeUInt32LE(length, p + 8);
    data.writeDoubleLE(ingestedAtMs, p + 12);
    const at = p + HEADER_BYTES;
    const text = json[k];
    if (text !== undefined) data.write(text, at, length, 'utf8');
    else if (encoded!.addVersion[i] === 1) {
      const upTo = encoded!.end[i]! - 1;
      encoded!.body.copy(data, at, encoded!.start[i]!, upTo);
      VERSION_SUFFIX.copy(data, at + upTo - encoded!.start[i]!);
    } else encoded!.body.copy(data, at, encoded!.start[i]!, encoded!.end[i]!);
    data.writeUInt32LE(crc32(data.subarray(p + 8, p + sizes[k]!)), p + 4);
    p += sizes[k]!;
  }
  return { data, sizes };
}
