import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { synthetic } from '../../../test/fixtures/model/synthetic.js';
import { ARTIFACT_VERSION, loadModel, parseModel, train, type ModelArtifact } from '../index.js';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/model');

const artifact = await train(synthetic(600, 11), synthetic(200, 12), { nTrees: 15, maxDepth: 3 });
const text = JSON.stringify(artifact);
const copy = (): ModelArtifact => JSON.parse(text) as ModelArtifact;

function refused(r: ReturnType<typeof loadModel>): { code: string; path?: string; message: string } {
  expect(r.ok).toBe(false);
  if (r.ok) throw new Error('loaded');
  return r.error;
}

describe('model artifact', () => {
  it('round-trips through JSON with identical predictions', () => {
    const a = loadModel(artifact);
    const b = parseModel(text);
    if (!a.ok || !b.ok) throw new Error('refused');
    const o1 = new Float64Array(1);
    const o2 = new Float64Array(1);
    for (const row of [
      [1, 2, 3],
      [NaN, NaN, NaN],
      [9, 0.5, 1],
    ])
      expect(b.value.predict(row, o2)[0]).toBe(a.value.predict(row, o1)[0]);
    expect(b.value.artifact.spec[2]!.categories).toEqual(['v', 'w', 'x', 'y', 'z']);
    expect(a.value.artifact.params.learningRate).toBe(0.05);
    expect(a.value.artifact.dataFingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('refuses truncated JSON', () => {
    const e = refused(parseModel(text.slice(0, text.length / 2)));
    expect(e.code).toBe('invalid_json');
  });

  it('refuses a format version from the future', () => {
    const e = refused(loadModel({ ...copy(), formatVersion: ARTIFACT_VERSION + 1 }));
    expect(e.code).toBe('unsupported_format');
    expect(e.path).toBe('formatVersion');
  });

  it('writes format 1 when nothing needs 2, and still loads a format 1 quantile model as it predicted', () => {
    expect(artifact.formatVersion).toBe(1);
    // Written by the code before format 2 (independent quantiles, additive CQR), with its predictions then.
    const old = parseModel(readFileSync(join(FIXTURES, 'format1-quantile.json'), 'utf8'));
    if (!old.ok) throw old.error;
    expect(old.value.artifact.formatVersion).toBe(1);
    expect(old.value.artifact.calibration).toMatchObject({ method: 'cqr', adjustment: 0.2671047247475933 });
    const rows = [
      [1, 2, 0],
      [5, NaN, 3],
      [9.5, 4.5, 4],
      [0, 0, 1],
      [NaN, 1, NaN],
    ];
    const then = [
      [2.18521164189178, 5.909804604938767, 17.724091685472587],
      [14.873178782030148, 29.88131907941127, 38.27178081724815],
      [15.319456318380677, 24.600876288870417, 26.262188858192026],
      [5.8548895548893976, 9.982101771130992, 20.477129154050843],
      [4.307919285253663, 8.07507223903606, 17.724091685472587],
    ];
    const out = new Float64Array(3);
    rows.forEach((r, i) => expect([...old.value.predict(r, out)]).toEqual(then[i]));
  });

  it('round-trips a format 2 (non-crossing, scaled) model with identical predictions', async () => {
    const q = await train(synthetic(600, 11), synthetic(200, 12), {
      objective: 'quantile',
      nTrees: 15,
      maxDepth: 3,
    });
    expect(q.formatVersion).toBe(2);
    expect(q.calibration).toMatchObject({ score: 'scaled', center: 'p50' });
    const a = loadModel(q);
    const b = parseModel(JSON.stringify(q));
    if (!a.ok || !b.ok) throw new Error('refused');
    const o1 = new Float64Array(3);
    const o2 = new Float64Array(3);
    for (const row of [
      [1, 2, 3],
      [NaN, NaN, NaN],
      [9, 0.5, 1],
    ])
      expect([...b.value.predict(row, o2)]).toEqual([...a.value.predict(row, o1)]);
  });

  it('refuses something that is no model at all', () => {
    expect(refused(loadModel({ hello: 1 })).code).toBe('unsupported_format');
    expect(refused(loadModel([1, 2])).code).toBe('unsupported_format');
  });

  it('names a child index out of range', () => {
    const a = copy();
    a.trees[3]!.left[0] = 999;
    const e = refused(loadModel(a));
    expect(e.code).toBe('invalid_artifact');
    expect(e.path).toBe('trees[3].left[0]');
  });

  it('refuses a NaN threshold', () => {
    const e = refused(parseModel(text.replace(/"threshold":\[[^,\]]+/, '"threshold":[NaN')));
    expect(e.path).toBe('trees[0].threshold[0]');
    expect(e.message).toMatch(/finite number/);
  });

  it('refuses a cycle, a feature out of range and a missing field', () => {
    const a = copy();
    a.trees[0]!.right[0] = 0;
    expect(refused(loadModel(a)).path).toBe('trees[0].right[0]');
    const b = copy();
    b.trees[1]!.feature[0] = 3;
    expect(refused(loadModel(b)).path).toBe('trees[1].feature[0]');
    const c = copy() as unknown as Record<string, unknown>;
    delete c.outputs;
    expect(refused(loadModel(c)).path).toBe('outputs');
    const d = copy();
    d.trees[2]!.value.pop();
    expect(refused(loadModel(d)).path).toBe('trees[2].value');
  });

  it('routes categories beyond the fast table (codes >= 255) and unknown codes the other way', () => {
    const wide: ModelArtifact = {
      ...copy(),
      spec: [{ name: 'zone', type: 'categorical' }],
      outputs: [{ name: 'p50', objective: 'squared', baseScore: 1 }],
      calibration: null,
      trees: [
        {
          output: 0,
          feature: [0, -1, -1],
          threshold: [0, 0, 0],
          defaultLeft: [1, 0, 0],
          left: [1, -1, -1],
          right: [2, -1, -1],
          value: [0, 10, 20],
          gain: [1, 0, 0],
          cover: [2, 1, 1],
          categorical: [{ node: 0, set: [3, 300], setGoesLeft: true }],
        },
      ],
    };
    const m = loadModel(wide);
    if (!m.ok) throw m.error;
    const out = new Float64Array(1);
    const cases: Array<[number, number]> = [
      [3, 11],
      [300, 11],
      [4, 21],
      [NaN, 11],
      [-1, 21],
      [3.7, 11],
    ];
    for (const [v, want] of cases) {
      expect(m.value.predict([v], out)[0]).toBe(want);
      const phi = m.value.contributions([v]);
      expect(phi[0]! + phi[1]!).toBeCloseTo(want, 12);
    }
  });
});
