import { describe, expect, it } from 'vitest';
import { loadModel, train, type Model, type ModelArtifact } from '../index.js';
import { rowOf, synthetic } from '../../../test/fixtures/model/synthetic.js';

function model(a: ModelArtifact): Model {
  const m = loadModel(a);
  if (!m.ok) throw m.error;
  return m.value;
}

const trainSet = synthetic(3000, 1);
const validSet = synthetic(1000, 2);
const fast = { nTrees: 120, learningRate: 0.2, maxDepth: 4 };

describe('training', () => {
  it('routes missing values the learned way', async () => {
    const m = model(await train(trainSet, validSet, fast));
    const out = new Float64Array(1);
    // b missing means +20 in the target; b present contributes at most 5.
    const missing = m.predict([5, NaN, 0], out)[0]!;
    const present = m.predict([5, 2.5, 0], out)[0]!;
    expect(missing).toBeGreaterThan(28);
    expect(present).toBeLessThan(14);
  });

  it('learns a categorical feature natively, as set splits', async () => {
    const a = await train(trainSet, validSet, fast);
    expect(a.trees.some((t) => t.categorical && t.categorical.length > 0)).toBe(true);
    const m = model(a);
    const out = new Float64Array(1);
    const byCat = [0, 1, 2, 3, 4].map((c) => m.predict([5, 2, c], out)[0]!);
    // Effects 0, 6, -4, 9, 1 on top of 2*5 + 2.
    [12, 18, 8, 21, 13].forEach((want, c) => expect(Math.abs(byCat[c]! - want)).toBeLessThan(1.5));
  });

  it('gives the same trees for the same seed', async () => {
    const p = { ...fast, nTrees: 20, subsample: 0.7, colsample: 0.67, seed: 42 };
    const a = await train(trainSet, validSet, p);
    const b = await train(trainSet, validSet, p);
    expect(JSON.stringify(b.trees)).toBe(JSON.stringify(a.trees));
    const c = await train(trainSet, validSet, { ...p, seed: 43 });
    expect(JSON.stringify(c.trees)).not.toBe(JSON.stringify(a.trees));
  });

  it('gives the same trees when two trainings run at once in one process', async () => {
    // Interleaved outputs of two quantile trainings: any buffer shared between runs would show here.
    const p = { ...fast, nTrees: 15, objective: 'quantile' as const, colsample: 0.67 };
    const alone = [await train(trainSet, validSet, { ...p, seed: 1 }), await train(validSet, trainSet, p)];
    const together = await Promise.all([
      train(trainSet, validSet, { ...p, seed: 1 }),
      train(validSet, trainSet, p),
    ]);
    expect(together.map((a) => JSON.stringify(a.trees))).toEqual(alone.map((a) => JSON.stringify(a.trees)));
  });

  it('reports the losses its trees give, with rows left out of the bag', async () => {
    const a = await train(trainSet, validSet, { ...fast, nTrees: 30, subsample: 0.6, seed: 7 });
    const m = model(a);
    const rmse = (d: typeof trainSet): number => {
      const out = new Float64Array(1);
      let se = 0;
      for (let i = 0; i < d.target.length; i++) se += (m.predict(rowOf(d, i), out)[0]! - d.target[i]!) ** 2;
      return Math.sqrt(se / d.target.length);
    };
    const reported = a.metrics.outputs[0]!;
    expect(reported.trainLoss).toBeCloseTo(rmse(trainSet), 4);
    expect(reported.validLoss).toBeCloseTo(rmse(validSet), 4);
  });

  it('stops early when validation loss stops improving', async () => {
    // Pure noise: nothing to learn, so validation loss bottoms out quickly.
    const noise = (seed: number) => {
      const d = synthetic(800, seed);
      return { ...d, target: d.target.map((_, i) => (Math.sin(i * 12.9898 + seed) * 43758.5453) % 1) };
    };
    const a = await train(noise(3), noise(4), { nTrees: 500, earlyStoppingRounds: 10, learningRate: 0.3 });
    const mtr = a.metrics.outputs[0]!;
    expect(mtr.iterations).toBeLessThan(500);
    expect(mtr.iterations).toBe(mtr.bestIteration + 11);
    expect(a.trees.length).toBe(mtr.bestIteration + 1);
  });

  it('respects maxLeaves with leaf-wise growth', async () => {
    const a = await train(trainSet, undefined, { nTrees: 5, growth: 'leafwise', maxLeaves: 5, maxDepth: 10 });
    for (const t of a.trees) expect(t.left.filter((l) => l < 0).length).toBeLessThanOrEqual(5);
  });

  it('predict, predictBatch and contributions agree', async () => {
    const m = model(await train(trainSet, validSet, fast));
    const n = 50;
    const flat = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) flat.set(rowOf(validSet, i), i * 3);
    const batch = new Float64Array(n);
    m.predictBatch(flat, n, batch);
    const out = new Float64Array(1);
    for (let i = 0; i < n; i++) {
      const row = rowOf(validSet, i);
      expect(m.predict(row, out)[0]).toBe(batch[i]);
      const contrib = m.contributions(row);
      expect(contrib.length).toBe(4);
      expect(contrib.reduce((s, v) => s + v, 0)).toBeCloseTo(batch[i]!, 8);
    }
    const gain = m.importance('gain');
    expect(gain.map((g) => g.feature).sort()).toEqual(['a', 'b', 'c']);
    expect(m.importance('split').every((s) => Number.isInteger(s.value))).toBe(true);
  });

  it('trains one booster per quantile in one call, covering about the nominal share', async () => {
    const tr = synthetic(4000, 5, 6);
    const va = synthetic(1500, 6, 6);
    const te = synthetic(3000, 7, 6);
    const a = await train(tr, va, {
      objective: 'quantile',
      quantiles: [0.9, 0.1, 0.5],
      ...fast,
      learningRate: 0.1,
    });
    const m = model(a);
    expect(m.outputNames).toEqual(['p10', 'p50', 'p90']);
    expect(a.calibration?.method).toBe('cqr');
    const out = new Float64Array(3);
    let inside = 0;
    let below50 = 0;
    for (let i = 0; i < te.target.length; i++) {
      m.predict(rowOf(te, i), out);
      const y = te.target[i]!;
      if (y >= out[0]! && y <= out[2]!) inside++;
      if (y < out[1]!) below50++;
    }
    expect(inside / te.target.length).toBeGreaterThan(0.75);
    expect(inside / te.target.length).toBeLessThan(0.85);
    expect(below50 / te.target.length).toBeGreaterThan(0.44);
    expect(below50 / te.target.length).toBeLessThan(0.56);
  });

  it('refuses bad input with a reason', async () => {
    await expect(train(trainSet, undefined, { learningRate: 0 })).rejects.toThrow(/learningRate/);
    await expect(train({ ...trainSet, columns: trainSet.columns.slice(1) }, undefined)).rejects.toThrow(
      /columns/,
    );
  });
});
