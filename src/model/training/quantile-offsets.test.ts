import { describe, expect, it } from 'vitest';
import { synthetic } from '../../../test/fixtures/model/synthetic.js';
import { loadModel, train, type Model, type ModelArtifact } from '../index.js';
import { gapLevel, offsetPlan } from './quantile-offsets.js';
import { Rng } from '../rng.js';

const QUANTILES = [0.05, 0.1, 0.5, 0.9, 0.95];
// Small and noisy: independent boosters for neighbouring quantiles disagree, so they cross on some rows.
const small = synthetic(400, 31, 6);
const smallValid = synthetic(200, 32, 6);
const params = {
  objective: 'quantile',
  quantiles: QUANTILES,
  nTrees: 60,
  learningRate: 0.3,
  maxDepth: 4,
} as const;

function model(a: ModelArtifact): Model {
  const m = loadModel(JSON.parse(JSON.stringify(a)));
  if (!m.ok) throw m.error;
  return m.value;
}

/** Rows a model never saw: in range, far outside it, missing, unknown categories. */
function oddRows(n: number): number[][] {
  const rng = new Rng(99);
  const pick = (): number => {
    const u = rng.next();
    return u < 0.1 ? NaN : u < 0.2 ? (rng.next() - 0.5) * 1e6 : rng.next() * 12 - 1;
  };
  return Array.from({ length: n }, () => [pick(), pick(), rng.int(8) - 1]);
}

/** Rows whose outputs are out of order, and the worst inversion. */
function crossings(m: Model, rows: number[][]): { rows: number; worst: number } {
  const out = new Float64Array(m.outputNames.length);
  let crossed = 0;
  let worst = 0;
  for (const r of rows) {
    m.predict(r, out);
    let bad = false;
    for (let k = 1; k < out.length; k++) {
      if (!(out[k - 1]! <= out[k]!)) bad = true;
      worst = Math.max(worst, out[k - 1]! - out[k]!);
    }
    if (bad) crossed++;
  }
  return { rows: crossed, worst };
}

const independent = await train(small, smallValid, { ...params, quantileMethod: 'independent' });
const offsets = await train(small, smallValid, params);

describe('non-crossing quantiles (offsets)', () => {
  it('anchors the median first, then each quantile on its inner neighbour', () => {
    expect(offsetPlan(QUANTILES).map((p) => [p.name, p.anchor ?? null, p.side ?? null])).toEqual([
      ['p50', null, null],
      ['p10', 2, 'below'],
      ['p5', 1, 'below'],
      ['p90', 2, 'above'],
      ['p95', 3, 'above'],
    ]);
    expect(gapLevel(0.1, 'below')).toBeCloseTo(0.9, 12);
    expect(gapLevel(0.9, 'above')).toBe(0.9);
    expect(() => offsetPlan([0.1, 0.9])).toThrow(/0\.5/);
    expect(offsets.formatVersion).toBe(2);
    expect(offsets.outputs.map((o) => [o.name, o.offset?.anchor ?? null])).toEqual([
      ['p5', 'p10'],
      ['p10', 'p50'],
      ['p50', null],
      ['p90', 'p50'],
      ['p95', 'p90'],
    ]);
    expect(offsets.metrics.outputs.map((m) => m.space ?? null)).toEqual([
      'log-gap',
      'log-gap',
      null,
      'log-gap',
      'log-gap',
    ]);
  });

  it('never crosses, on seen or unseen rows, where independent boosters do', () => {
    const rows = oddRows(5000);
    const bad = crossings(model(independent), rows);
    expect(bad.rows).toBeGreaterThan(0); // the check can fail: it does for the old method
    expect(crossings(model(offsets), rows)).toEqual({ rows: 0, worst: 0 });
  });

  it('learns each quantile: the share of new outcomes below it is about its level', async () => {
    const a = await train(synthetic(6000, 41, 4), synthetic(2000, 42, 4), {
      ...params,
      nTrees: 200,
      learningRate: 0.1,
      calibrate: false,
    });
    const m = model(a);
    const test = synthetic(6000, 43, 4);
    const out = new Float64Array(5);
    const below = new Float64Array(5);
    for (let i = 0; i < test.target.length; i++) {
      m.predict([test.columns[0]![i]!, test.columns[1]![i]!, test.columns[2]![i]!], out);
      for (let k = 0; k < 5; k++) if (test.target[i]! < out[k]!) below[k]++;
    }
    // Measured: 0.078 0.124 0.497 0.879 0.931, as independent boosters on the same data (0.080 0.117 0.497 0.879 0.928).
    QUANTILES.forEach((q, k) =>
      expect(Math.abs(below[k]! / test.target.length - q), `p${q * 100}`).toBeLessThan(0.035),
    );
  });

  it('stays ordered after adversarial corrections and trees', () => {
    const rows = oddRows(500);
    for (const factor of [1e-300, 1e-9, 0.3, 40, 1e300]) {
      const a = structuredClone(offsets);
      a.calibration!.adjustment = factor;
      expect(crossings(model(a), rows).rows, `factor ${factor}`).toBe(0);
    }
    // Gap trees whose leaves would overflow exp (Infinity) or underflow it (0).
    for (const leaf of [800, -800]) {
      const a = structuredClone(offsets);
      for (const t of a.trees) if (a.outputs[t.output]!.offset) t.value = t.value.map(() => leaf);
      expect(crossings(model(a), rows).rows, `leaf ${leaf}`).toBe(0);
    }
  });

  it('explains an offset output with contributions that sum to it', () => {
    const m = model(offsets);
    const out = new Float64Array(5);
    for (const row of oddRows(50).filter((r) => r.every((v) => Number.isNaN(v) || Math.abs(v) < 100))) {
      m.predict(row, out);
      for (let k = 0; k < 5; k++) {
        const phi = m.contributions(row, k);
        expect(phi.reduce((s, v) => s + v, 0)).toBeCloseTo(out[k]!, 6);
      }
    }
  });

  it('refuses offsets that name no output or go round in a circle', () => {
    const refused = (edit: (a: ModelArtifact) => void): string | undefined => {
      const a = structuredClone(offsets);
      edit(a);
      const r = loadModel(a);
      return r.ok ? undefined : r.error.path;
    };
    expect(refused((a) => (a.outputs[0]!.offset!.anchor = 'p42'))).toBe('outputs[0].offset.anchor');
    expect(
      refused((a) => {
        a.outputs[2]!.offset = { anchor: 'p10', side: 'above' };
      }),
    ).toBe('outputs[0].offset.anchor');
    expect(refused((a) => (a.formatVersion = 1))).toBe('formatVersion');
  });
});
