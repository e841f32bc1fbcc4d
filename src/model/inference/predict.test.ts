import { describe, expect, it } from 'vitest';
import { synthetic } from '../../../test/fixtures/model/synthetic.js';
import { loadModel, train, type ArtifactTree, type Model, type ModelArtifact } from '../index.js';

// Features of the synthetic spec: a (numeric), b (numeric), c (categorical, 5 categories).
const template = await train(synthetic(300, 3), synthetic(100, 4), { nTrees: 2, maxDepth: 2 });

/** A stump on one feature: leaf values 1 (left) and 2 (right), so the answer says which way the row went. */
function stump(
  feature: number,
  threshold: number,
  defaultLeft: boolean,
  cat?: { set: number[]; setGoesLeft: boolean },
): ArtifactTree {
  return {
    output: 0,
    feature: [feature, -1, -1],
    threshold: [cat ? 0 : threshold, 0, 0],
    defaultLeft: [defaultLeft ? 1 : 0, 0, 0],
    left: [1, -1, -1],
    right: [2, -1, -1],
    value: [1.5, 1, 2],
    gain: [1, 0, 0],
    cover: [2, 1, 1],
    ...(cat ? { categorical: [{ node: 0, ...cat }] } : {}),
  };
}

function loaded(trees: ArtifactTree[]): Model {
  const artifact: ModelArtifact = {
    ...template,
    outputs: [{ ...template.outputs[0]!, baseScore: 0 }],
    calibration: null,
    trees,
  };
  const result = loadModel(JSON.parse(JSON.stringify(artifact)));
  if (!result.ok) throw result.error;
  return result.value;
}

/** Which side each row takes, through the compiled kernel, one row at a time and in a batch. */
function sides(tree: ArtifactTree, rows: number[][]): string[] {
  const m = loaded([tree]);
  const out = new Float64Array(1);
  const single = rows.map((r) => m.predict(r, out)[0]);
  const batch = new Float64Array(rows.length);
  m.predictBatch(Float64Array.from(rows.flat()), rows.length, batch);
  expect([...batch]).toEqual(single);
  return single.map((v) => (v === 1 ? 'left' : v === 2 ? 'right' : `?${v}`));
}

describe('compiled prediction routes every row as the split says', () => {
  it('numeric: below the threshold goes left, at or above it right, missing to the learned side', () => {
    const rows = [
      [2.9, 0, 0],
      [3, 0, 0],
      [3.1, 0, 0],
      [NaN, 0, 0],
      [-Infinity, 0, 0],
      [Infinity, 0, 0],
    ];
    expect(sides(stump(0, 3, true), rows)).toEqual(['left', 'right', 'right', 'left', 'left', 'right']);
    expect(sides(stump(0, 3, false), rows)).toEqual(['left', 'right', 'right', 'right', 'left', 'right']);
  });

  it('compares in float32, as XGBoost does', () => {
    // 0.1 in float32 is slightly above the double 0.1: both sides of the double land on the float32 value.
    const t = Math.fround(0.1);
    const rows = [
      [0.1, 0, 0],
      [t, 0, 0],
      [0.09999999, 0, 0],
    ];
    expect(sides(stump(0, t, true), rows)).toEqual(['right', 'right', 'left']);
    expect(sides(stump(0, t, false), rows)).toEqual(['right', 'right', 'left']);
  });

  it('zero thresholds treat -0 as 0', () => {
    const rows = [
      [-0, 0, 0],
      [0, 0, 0],
      [-1e-30, 0, 0],
    ];
    expect(sides(stump(0, 0, true), rows)).toEqual(['right', 'right', 'left']);
    expect(sides(stump(0, 0, false), rows)).toEqual(['right', 'right', 'left']);
  });

  it('categorical: the set goes its way, other, negative and unseen categories the other way', () => {
    // Categories 1 and 3 in the set; 3.7 is category 3; -0.5 and 9 are outside every set.
    const rows = [
      [0, 0, 1],
      [0, 0, 3.7],
      [0, 0, 0],
      [0, 0, 2],
      [0, 0, -0.5],
      [0, 0, 9],
      [0, 0, NaN],
    ];
    expect(sides(stump(2, 0, true, { set: [1, 3], setGoesLeft: true }), rows)).toEqual([
      'left',
      'left',
      'right',
      'right',
      'right',
      'right',
      'left',
    ]);
    expect(sides(stump(2, 0, false, { set: [1, 3], setGoesLeft: false }), rows)).toEqual([
      'right',
      'right',
      'left',
      'left',
      'left',
      'left',
      'right',
    ]);
  });

  it('many trees of different depths and shared partitions add up in any lane layout', () => {
    // Eleven trees: eight walked in lockstep (a depth-2 tree among stumps whose leaves must stay put), three
    // one by one; one categorical partition used with both missing sides.
    const deep = template.trees[0]!;
    const stumps = Array.from({ length: 10 }, (_, i) =>
      i % 2
        ? stump(2, 0, i % 3 === 0, { set: [0, 4], setGoesLeft: true })
        : stump(i % 4 === 0 ? 0 : 1, 2.5, i % 3 === 0),
    );
    const all = loaded([deep, ...stumps]);
    const deepOnly = loaded([deep]);
    const out = new Float64Array(1);
    for (const row of [
      [1, 1, 0],
      [3, NaN, 4],
      [NaN, 3, NaN],
      [2.5, 2.5, 2],
      [8, 0.2, 1],
    ]) {
      const stumpSum = stumps.reduce((s, t) => s + (sides(t, [row])[0] === 'left' ? 1 : 2), 0);
      const expected = stumpSum + deepOnly.predict(row, out)[0]!;
      expect(all.predict(row, out)[0]).toBeCloseTo(expected, 12);
    }
  });
});
