import type { FsLike } from './fs-like.js';
import type { OffsetsStore } from './offsets-store.js';
import type { SegmentInfo } from './segments.js';
import type { RetentionResult } from './types.js';

/**
 * Deletes whole segments of `segments` (in place), oldest first, while the oldest is past the retention period (the
 * privacy bound: always applied) or the log is over maxDiskBytes. A segment some consumer group has not read past
 * is still deleted then, but counted in `unread` (the module logs it and counts it in a metric): the disk bound is
 * the last resort, and oldest first means read data always goes before unread. The active segment stays.
 */
export async function enforceSegmentRetention(
  fs: FsLike,
  segments: SegmentInfo[],
  bounds: { retentionMs: number; maxDiskBytes: number },
  offsets: OffsetsStore,
  nowMs: number,
): Promise<RetentionResult> {
  const result: RetentionResult = { segmentsDeleted: 0, bytesDeleted: 0 };
  const { retentionMs, maxDiskBytes } = bounds;
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
    await fs.rm(oldest.file, { force: true });
    segments.shift();
    total -= oldest.size;
    result.segmentsDeleted++;
    result.bytesDeleted += oldest.size;
    if (behind.length > 0) {
      result.unread ??= { segments: 0, bytes: 0, groups: [], reason: expired ? 'retention' : 'maxDiskBytes' };
      result.unread.segments++;
      result.unread.bytes += upTo - Math.max(oldest.base, Math.min(...behind.map(([, at]) => at)));
      for (const [g] of behind) if (!result.unread.groups.includes(g)) result.unread.groups.push(g);
      if (over && !expired) result.unread.reason = 'maxDiskBytes';
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
