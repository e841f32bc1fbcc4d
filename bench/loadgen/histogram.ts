import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { LatencySummary } from './types.js';

/** Microseconds, 3 significant digits, 1 µs to 1 h (auto-resizing past that). */
export function createHistogram(): Histogram {
  return hdr.build({
    numberOfSignificantValueDigits: 3,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    autoResize: true,
    useWebAssembly: false,
  });
}

/** Records a duration given in milliseconds (float) as whole microseconds, at least 1. */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(ms <= 0.001 ? 1 : Math.round(ms * 1000));
}

const ms = (us: number): number => Math.round(us) / 1000;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) {
    return { count: 0, min: 0, mean: 0, stdev: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  }
  // Percentiles report the highest value equivalent to the bucket; never above the exact max.
  const at = (p: number): number => ms(Math.min(h.getValueAtPercentile(p), h.maxValue));
  return {
    count: h.totalCount,
    min: ms(h.minNonZeroValue),
    mean: ms(h.mean),
    stdev: ms(h.stdDeviation),
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    p999: at(99.9),
    max: ms(h.maxValue),
  };
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Decodes a histogram from `LoadResult.histogram`, e.g. to merge several runs with `add`. */
export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded);
}
