import type { FsLike } from './fs-like.js';
import type { OffsetsStore } from './offsets-store.js';
import type { SegmentInfo } from './segments.js';
import type { RetentionResult } from './types.js';

/**
 * Deletes whole segments of `segments` (in place), oldest first, while the oldest is past the retention period or
 * the log is over maxDiskBytes. The time bound waits for the groups of `waitFor` that exist (the lake writer): a
 * segment one of them has not read past stays, and the result names them in `heldFor`. Otherwise a segment some
 * consumer group has not read past is still deleted, but counted in `unread` (the module logs it and counts it in
 * a metric): the disk bound is the last resort, and oldest first means read data always goes before unread. The
 * active segment stays.
 */
export async function enforceSegmentRetention(
  fs: FsLike,
  segments: SegmentInfo[],
  bounds: { retentionMs: number; maxDiskBytes: number; waitFor?: readonly string[] },
  offsets: OffsetsStore,
  nowMs: number,
): Promise<RetentionResult> {
  const result: RetentionResult = { segmentsDeleted: 0, bytesDeleted: 0 };
  const { retentionMs, maxDiskBytes } = bounds;
  const waitFor = bounds.waitFor ?? [];
  let total = segments.reduce((a, s) => a + s.size, 0);
  let positions: Map<string, number> | undefined;
  while (segments.length > 1) {
    const oldest = segments[0]!;
    const expired = retentionMs > 0 && nowMs - oldest.mtimeMs > retentionMs;
    const over = maxDiskBytes > 0 && total > maxDiskBytes;
    if (!expired && !over) break;
    positions ??= await groupPositions(offsets);
    const upTo = segments[1]!.base;
    const behind = [...positions].filter(([, at]) => at < upTo);
    const waiting = behind.filter(([g]) => waitFor.includes(g)).map(([g]) => g);
    if (!over && waiting.length > 0) {
      result.heldFor = waiting;
      break;
    }
    await fs.rm(oldest.file, { force: true });
    segments.shift();
    total -= oldest.size;
    result.segmentsDeleted++;
    result.bytesDeleted += oldest.size;
    if (behind.length > 0) {
      // A waited-for group passed only because the disk bound forced it.
      const forced = over && (!expired || waiting.length > 0);
      result.unread ??= { segments: 0, bytes: 0, groups: [], reason: forced ? 'maxDiskBytes' : 'retention' };
      result.unread.segments++;
      result.unread.bytes += upTo - Math.max(oldest.base, Math.min(...behind.map(([, at]) => at)));
      for (const [g] of behind) if (!result.unread.groups.includes(g)) result.unread.groups.push(g);
      if (forced) result.unread.reason = 'maxDiskBytes';
    }
  }
  return result;
}

/** Where each consumer group with an offsets file stands; a damaged file counts as not read at all. */
async function groupPositions(offsets: OffsetsStore): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [group, stored] of await offsets.all()) {
    out.set(group, stored && 'offset' in stored ? Number(stored.offset) : 0);
  }
  return out;
}
