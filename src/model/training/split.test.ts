import { describe, expect, it } from 'vitest';
import { binNumeric, buildFeatureBins, MISSING_BIN } from './binning.js';
import { binDataset } from './dataset.js';
import { accumulate, Accumulators, HIST_STRIDE, subtractInto, type HistInput } from './histogram.js';
import { findBestSplit, leafWeight, splitGain, SplitScratch } from './split.js';
import { loadModel, train } from '../index.js';

describe('gain and leaf formulas', () => {
  it('leaf weight is the Newton step with L2', () => {
    expect(leafWeight(10, 2, 0)).toBe(-5);
    expect(leafWeight(10, 2, 3)).toBe(-2);
  });
  it('a split that separates opposite gradients gains', () => {
    expect(splitGain(-4, 2, 4, 2, 0)).toBe(16);
    expect(splitGain(2, 2, 2, 2, 0)).toBe(0);
  });
});

describe('binning', () => {
  it('keeps at most maxBins value bins plus the missing bin', () => {
    const col = Float64Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? NaN : i * 0.37));
    const [fb] = buildFeatureBins([{ name: 'x', type: 'numeric' }], [col], 32, 0);
    expect(fb!.nBins).toBeLessThanOrEqual(33);
    expect(binNumeric(fb!.cuts, NaN)).toBe(MISSING_BIN);
    expect(binNumeric(fb!.cuts, -1)).toBe(1);
    expect(binNumeric(fb!.cuts, 1e9)).toBe(fb!.nBins - 1);
  });
  it('gives each category its own bin and unknown codes the missing bin', () => {
    const [fb] = buildFeatureBins(
      [{ name: 'c', type: 'categorical', categories: ['a', 'b', 'c'] }],
      [Float64Array.of(0, 1, 2, 1)],
      255,
      0,
    );
    const d = binDataset([Float64Array.of(0, 2, NaN, -1)], 4, [fb!]);
    expect(Array.from(d.bins)).toEqual([1, 3, 0, 0]);
  });
});

describe('histograms', () => {
  it('the larger child equals parent minus the smaller child', () => {
    const n = 300;
    const col = Float64Array.from({ length: n }, (_, i) => (i * 7919) % 101);
    const fbs = buildFeatureBins([{ name: 'x', type: 'numeric' }], [col], 16, 0);
    const d = binDataset([col], n, fbs);
    const grad = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const hess = new Float32Array(n).fill(1);
    const rows = Uint32Array.from({ length: n }, (_, i) => i);
    const inp: HistInput = {
      bins: d.bins,
      nFeatures: 1,
      rows,
      grad,
      hess,
      feats: Int32Array.of(0),
      foff: Int32Array.of(0),
      fbins: Int32Array.of(fbs[0]!.nBins),
      unitHessian: false,
    };
    const size = fbs[0]!.nBins * HIST_STRIDE;
    const parent = new Float64Array(size);
    const small = new Float64Array(size);
    const large = new Float64Array(size);
    accumulate(inp, 0, n, 0, 1, parent);
    accumulate(inp, 0, 100, 0, 1, small);
    accumulate(inp, 100, n, 0, 1, large);
    subtractInto(inp, parent, small);
    parent.forEach((v, i) => expect(v).toBeCloseTo(large[i]!, 9));
  });
});

describe('the generated histogram loop', () => {
  const n = 500;
  const nF = 5;
  const columns = Array.from({ length: nF }, (_, f) =>
    Float64Array.from({ length: n }, (_, i) => (i % 7 === f ? NaN : ((i * (f + 3) * 7919) % 97) / 7)),
  );
  const spec = columns.map((_, f) => ({ name: `x${f}`, type: 'numeric' as const }));
  const fbs = buildFeatureBins(spec, columns, 32, 0);
  const d = binDataset(columns, n, fbs);
  const grad = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
  const hess = Float32Array.from({ length: n }, (_, i) => 0.5 + (i % 3));
  // Every other row, so the loop follows the row list rather than a plain range.
  const rows = Uint32Array.from({ length: n / 2 }, (_, i) => 2 * i);

  it.each([
    { name: 'every feature, unit hessian', feats: [0, 1, 2, 3, 4], unitHessian: true, j0: 0, j1: 5 },
    { name: 'every feature, given hessians', feats: [0, 1, 2, 3, 4], unitHessian: false, j0: 0, j1: 5 },
    { name: "sampled features, a thread's half", feats: [0, 2, 4], unitHessian: false, j0: 1, j1: 3 },
  ])('sums exactly what the plain loop sums: $name', ({ feats, unitHessian, j0, j1 }) => {
    const inp: HistInput = {
      bins: d.bins,
      nFeatures: nF,
      rows,
      grad,
      hess,
      feats: Int32Array.from(feats),
      foff: Int32Array.from(feats, (f) => d.histOffsets[f]! * HIST_STRIDE),
      fbins: Int32Array.from(feats, (f) => fbs[f]!.nBins),
      unitHessian,
    };
    const size = d.histOffsets[nF]! * HIST_STRIDE;
    const plain = new Float64Array(size);
    const generated = new Float64Array(size);
    accumulate(inp, 10, 200, j0, j1, plain);
    new Accumulators().for(inp, j0, j1)(rows, d.bins, grad, hess, 10, 200, generated);
    expect(Array.from(generated)).toEqual(Array.from(plain));
    expect(plain.some((v) => v !== 0)).toBe(true);
  });
});

describe('a tiny known dataset', () => {
  const data = {
    spec: [{ name: 'x', type: 'numeric' as const }],
    columns: [Float64Array.of(1, 2, 3, 4)],
    target: Float64Array.of(0, 0, 10, 10),
  };

  it('splits between 2 and 3 and predicts the two means exactly', async () => {
    const a = await train(data, undefined, {
      nTrees: 1,
      maxDepth: 1,
      learningRate: 1,
      lambda: 0,
      minChildWeight: 0,
    });
    const t = a.trees[0]!;
    expect(t.feature[0]).toBe(0);
    expect(t.threshold[0]).toBe(2.5);
    const m = loadModel(a);
    if (!m.ok) throw m.error;
    const out = new Float64Array(1);
    expect(m.value.predict([1], out)[0]).toBe(0);
    expect(m.value.predict([2.4], out)[0]).toBe(0);
    expect(m.value.predict([3], out)[0]).toBe(10);
  });

  it('findBestSplit reports the sums on each side', () => {
    const fbs = buildFeatureBins(data.spec, data.columns, 255, 0);
    const d = binDataset(data.columns, 4, fbs);
    const grad = Float32Array.of(5, 5, -5, -5);
    const inp: HistInput = {
      bins: d.bins,
      nFeatures: 1,
      rows: Uint32Array.of(0, 1, 2, 3),
      grad,
      hess: new Float32Array(4).fill(1),
      feats: Int32Array.of(0),
      foff: Int32Array.of(0),
      fbins: Int32Array.of(fbs[0]!.nBins),
      unitHessian: true,
    };
    const hist = new Float64Array(fbs[0]!.nBins * HIST_STRIDE);
    accumulate(inp, 0, 4, 0, 1, hist);
    const s = findBestSplit(
      hist,
      fbs,
      inp.feats,
      inp.foff,
      0,
      4,
      { lambda: 0, minChildWeight: 0, minSplitGain: 0 },
      new SplitScratch(),
    )!;
    expect([s.gl, s.hl, s.gr, s.hr]).toEqual([10, 2, -10, 2]);
    expect(s.gain).toBe(100);
  });
});
