import { binOf, type FeatureBins } from './binning.js';

/** Rows binned once, row-major: a histogram pass reads each row's bins from one cache line. */
export interface BinnedData {
  nRows: number;
  nFeatures: number;
  /** bins[row * nFeatures + f] */
  bins: Uint8Array;
  featureBins: FeatureBins[];
  /** Offset (in bins) of each feature's block in a histogram; last entry is the total. */
  histOffsets: Int32Array;
}

export type Allocator = (bytes: number) => ArrayBuffer | SharedArrayBuffer;
export const localAlloc: Allocator = (bytes) => new ArrayBuffer(bytes);
export const sharedAlloc: Allocator = (bytes) => new SharedArrayBuffer(bytes);

export function histOffsets(featureBins: FeatureBins[]): Int32Array {
  const off = new Int32Array(featureBins.length + 1);
  for (let f = 0; f < featureBins.length; f++) off[f + 1] = off[f]! + featureBins[f]!.nBins;
  return off;
}

export function binDataset(
  columns: ArrayLike<ArrayLike<number>>,
  nRows: number,
  featureBins: FeatureBins[],
  alloc: Allocator = localAlloc,
): BinnedData {
  const nF = featureBins.length;
  const bins = new Uint8Array(alloc(nRows * nF));
  for (let f = 0; f < nF; f++) {
    const col = columns[f]!;
    const fb = featureBins[f]!;
    for (let i = 0; i < nRows; i++) bins[i * nF + f] = binOf(fb, col[i]!);
  }
  return { nRows, nFeatures: nF, bins, featureBins, histOffsets: histOffsets(featureBins) };
}
