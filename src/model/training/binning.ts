import { Rng } from '../rng.js';
import type { FeatureSpec } from '../types.js';

/** Bin 0 is always "missing"; value bins are 1..nBins-1, so a bin fits a Uint8. */
export const MISSING_BIN = 0;
/** Quantile cuts from a sample: sorting every value of a large column costs more than it changes. */
const SAMPLE_ROWS = 200_000;

export interface FeatureBins {
  kind: 'numeric' | 'categorical';
  /** Total bins including the missing bin. */
  nBins: number;
  /** Numeric: ascending float32 cuts; value x is in bin 1 + #{cuts <= float32(x)}. */
  cuts: Float32Array;
}

/** Numeric bin b (1-based) holds x with cuts[b-2] <= x < cuts[b-1]; "bin <= b" is "x < cuts[b-1]". */
export function binNumeric(cuts: Float32Array, v: number): number {
  if (v !== v) return MISSING_BIN;
  const x = Math.fround(v);
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cuts[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}

/** Category c lives in bin c + 1; unknown or negative codes share the missing bin. */
export function binCategorical(nBins: number, v: number): number {
  if (v !== v || v < 0) return MISSING_BIN;
  const c = Math.trunc(v);
  return c + 1 < nBins ? c + 1 : MISSING_BIN;
}

export function binOf(fb: FeatureBins, v: number): number {
  return fb.kind === 'numeric' ? binNumeric(fb.cuts, v) : binCategorical(fb.nBins, v);
}

function sampleValues(col: ArrayLike<number>, rng: Rng): Float64Array {
  const n = col.length;
  const take = Math.min(n, SAMPLE_ROWS);
  const out = new Float64Array(take);
  let k = 0;
  if (take === n) {
    for (let i = 0; i < n; i++) {
      const v = col[i]!;
      if (v === v) out[k++] = Math.fround(v);
    }
  } else {
    for (let i = 0; i < take; i++) {
      const v = col[rng.int(n)]!;
      if (v === v) out[k++] = Math.fround(v);
    }
  }
  return out.subarray(0, k).sort();
}

/** A cut strictly above `lo` and at most `hi`, so `lo` goes left and `hi` right of it. */
function cutBetween(lo: number, hi: number): number {
  const mid = Math.fround(lo + (hi - lo) / 2);
  return mid > lo && mid <= hi ? mid : hi;
}

export function numericCuts(col: ArrayLike<number>, maxValueBins: number, rng: Rng): Float32Array {
  const sorted = sampleValues(col, rng);
  const values: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i]!;
    if (values.length > 0 && values[values.length - 1] === v) counts[counts.length - 1]!++;
    else {
      values.push(v);
      counts.push(1);
    }
  }
  const cuts: number[] = [];
  if (values.length <= maxValueBins) {
    for (let i = 1; i < values.length; i++) cuts.push(cutBetween(values[i - 1]!, values[i]!));
    return Float32Array.from(cuts);
  }
  // Equal-frequency bins, recomputing the target as heavy values eat their share.
  let remaining = sorted.length;
  let binsLeft = maxValueBins;
  let acc = 0;
  for (let i = 0; i < values.length - 1 && binsLeft > 1; i++) {
    acc += counts[i]!;
    const target = remaining / binsLeft;
    if (acc >= target || acc + counts[i + 1]! / 2 >= target) {
      cuts.push(cutBetween(values[i]!, values[i + 1]!));
      remaining -= acc;
      binsLeft--;
      acc = 0;
    }
  }
  return Float32Array.from(cuts);
}

export function buildFeatureBins(
  spec: FeatureSpec[],
  columns: ArrayLike<ArrayLike<number>>,
  maxBins: number,
  seed: number,
): FeatureBins[] {
  const valueBins = Math.max(2, Math.min(255, Math.floor(maxBins)));
  const rng = new Rng(seed ^ 0x5bd1e995);
  return spec.map((fs, f) => {
    const col = columns[f]!;
    if (fs.type === 'categorical') {
      let maxCode = -1;
      for (let i = 0; i < col.length; i++) {
        const v = col[i]!;
        if (v === v && v >= 0 && v > maxCode) maxCode = Math.trunc(v);
      }
      const nCats = Math.max(fs.categories?.length ?? 0, maxCode + 1);
      if (nCats > valueBins) {
        throw new RangeError(
          `categorical feature ${fs.name} has ${nCats} categories; at most ${valueBins} supported`,
        );
      }
      return { kind: 'categorical', nBins: nCats + 1, cuts: new Float32Array(0) };
    }
    const cuts = numericCuts(col, valueBins, rng);
    return { kind: 'numeric', nBins: cuts.length + 2, cuts };
  });
}
