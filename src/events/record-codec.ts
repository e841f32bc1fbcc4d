import zlib from 'node:zlib';
import type { EtaEvent } from './types.js';

/**
 * One record on disk: `length u32 | crc32 u32 | ingestedAtMs f64 | event JSON (length bytes)`, little endian. The
 * CRC covers the timestamp and the JSON, so a torn or overwritten tail is told apart from a record.
 */
export const HEADER_BYTES = 16;
/** A length beyond this is garbage, not a record: no event may be this large. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

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

export function encodeRecord(json: Buffer, ingestedAtMs: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + json.length);
  buf.writeUInt32LE(json.length, 0);
  buf.writeDoubleLE(ingestedAtMs, 8);
  json.copy(buf, HEADER_BYTES);
  buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
  return buf;
}

export type Decoded =
  | { kind: 'record'; bytes: number; ingestedAtMs: number; json: Buffer }
  /** Fewer bytes than the header or the length asks for: a tail still being written, or torn. */
  | { kind: 'partial' }
  /** A length or checksum that cannot be a record. */
  | { kind: 'corrupt'; reason: string };

export function decodeRecord(buf: Buffer, at: number): Decoded {
  if (buf.length - at < HEADER_BYTES) return { kind: 'partial' };
  const length = buf.readUInt32LE(at);
  if (length === 0 || length > MAX_RECORD_BYTES) return { kind: 'corrupt', reason: `bad length ${length}` };
  if (buf.length - at < HEADER_BYTES + length) return { kind: 'partial' };
  const crc = buf.readUInt32LE(at + 4);
  if (crc32(buf.subarray(at + 8, at + HEADER_BYTES + length)) !== crc)
    return { kind: 'corrupt', reason: 'checksum mismatch' };
  return {
    kind: 'record',
    bytes: HEADER_BYTES + length,
    ingestedAtMs: buf.readDoubleLE(at + 8),
    json: buf.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length),
  };
}

/**
 * The JSON of an event as validation already produced it (to measure its size), so the log need not stringify it a
 * second time. Only set when the event's first key is `event_id`, as the log stores it.
 */
export const encodedJson = new WeakMap<object, string>();

export function parseEvent(json: Buffer): EtaEvent {
  return JSON.parse(json.toString('utf8')) as EtaEvent;
}

/** An event's JSON with `event_id` first, as the log stores it (reusing what validation already serialised). */
export function encodeEvent(e: EtaEvent): Buffer {
  const known = encodedJson.get(e);
  if (known !== undefined) return Buffer.from(known);
  const { event_id, ...rest } = e;
  return Buffer.from(JSON.stringify({ event_id, ...rest }));
}
