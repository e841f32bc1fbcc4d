import type { FsLike } from './fs-like.js';
import { encodeRecord, parseEvent } from './record-codec.js';
import { collectOrders, forgetResult, redact, sameLengthJson, scopeOf, type ForgetScope } from './redact.js';
import { scanSegment, type SegmentInfo } from './segments.js';
import type { ForgetRequest, ForgetResult } from './types.js';

/** Whom a request covers in these segments: a customer's orders are found by their `order.created`. */
export async function forgetScopeIn(
  fs: FsLike,
  segments: readonly SegmentInfo[],
  request: ForgetRequest,
): Promise<ForgetScope> {
  const scope = scopeOf(request);
  if ('customerId' in request) {
    for (const seg of segments) {
      await scanSegment(fs, seg.file, (_pos, _at, json) => {
        if (json.includes('customer_id')) collectOrders(parseEvent(json), scope);
      });
    }
  }
  return scope;
}

/**
 * Forgetting in the file log rewrites each affected record in place, same length, new checksum (see redact.ts), and
 * fsyncs the file: offsets, consumers' positions and the dedupe index all stay valid, and no segment is copied.
 * A record being rewritten while a reader reads it fails its checksum for that moment; readers retry.
 */
export async function forgetInSegments(
  fs: FsLike,
  segments: readonly SegmentInfo[],
  request: ForgetRequest,
  scope?: ForgetScope,
): Promise<ForgetResult> {
  const who = scope ?? (await forgetScopeIn(fs, segments, request));
  let redacted = 0;
  for (const seg of segments) {
    const rewrites: Array<{ at: number; record: Buffer }> = [];
    await scanSegment(fs, seg.file, (pos, ingestedAtMs, json, format) => {
      const out = redact(parseEvent(json), who);
      if (!out) return;
      rewrites.push({ at: pos, record: encodeRecord(sameLengthJson(json, out), ingestedAtMs, format) });
    });
    if (rewrites.length === 0) continue;
    const handle = await fs.open(seg.file, 'r+');
    try {
      for (const r of rewrites) await handle.write(r.record, 0, r.record.length, r.at);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    redacted += rewrites.length;
  }
  return forgetResult(redacted, who);
}
