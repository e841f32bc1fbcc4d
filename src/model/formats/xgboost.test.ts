import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel, parseModel } from '../index.js';

const dir = new URL('../../../test/fixtures/xgboost/', import.meta.url);
const modelText = readFileSync(new URL('model.json', dir), 'utf8');
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')) as {
  feature_names: string[];
  rows: Array<Array<number | null>>;
  predictions: number[];
  contributions: number[][];
};
const rows = expected.rows.map((r) => r.map((v) => (v === null ? NaN : v)));

describe('XGBoost import', () => {
  const loaded = parseModel(modelText);
  if (!loaded.ok) throw loaded.error;
  const model = loaded.value;

  it('reads names, types and one p50 output', () => {
    expect(model.spec.map((s) => s.name)).toEqual(expected.feature_names);
    expect(model.spec.map((s) => s.type)).toEqual(['numeric', 'numeric', 'numeric', 'categorical']);
    expect(model.outputNames).toEqual(['p50']);
  });

  it('predicts what XGBoost predicts, missing values and categories included', () => {
    const out = new Float64Array(1);
    rows.forEach((row, i) => {
      const want = expected.predictions[i]!;
      const got = model.predict(row, out)[0]!;
      expect(Math.abs(got - want) / Math.max(1, Math.abs(want))).toBeLessThan(1e-4);
    });
  });

  it("gives XGBoost's own TreeSHAP contributions (pred_contribs)", () => {
    rows.forEach((row, i) => {
      const got = model.contributions(row);
      const want = expected.contributions[i]!;
      expect(got.length).toBe(want.length);
      want.forEach((w, f) => expect(Math.abs(got[f]! - w)).toBeLessThan(1e-3 * Math.max(1, Math.abs(w))));
    });
  });

  it('keeps parity through the converted etaserve artifact', () => {
    const again = loadModel(JSON.parse(JSON.stringify(model.artifact)));
    if (!again.ok) throw again.error;
    const flat = new Float64Array(rows.flat());
    const out = new Float64Array(rows.length);
    again.value.predictBatch(flat, rows.length, out);
    out.forEach((p, i) =>
      expect(Math.abs(p - expected.predictions[i]!) / Math.abs(expected.predictions[i]!)).toBeLessThan(1e-4),
    );
  });

  it('refuses an XGBoost model with a link function', () => {
    const json = JSON.parse(modelText.replace(/NaN/g, 'null')) as {
      learner: { objective: { name: string } };
    };
    json.learner.objective.name = 'binary:logistic';
    const r = loadModel(json);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('unsupported_format');
      expect(r.error.path).toBe('learner.objective.name');
    }
  });

  it('names the broken node of a damaged XGBoost tree', () => {
    const json = JSON.parse(modelText.replace(/NaN/g, 'null')) as {
      learner: { gradient_booster: { model: { trees: Array<{ left_children: number[] }> } } };
    };
    json.learner.gradient_booster.model.trees[2]!.left_children[0] = 9999;
    const r = loadModel(json);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.path).toBe('learner.gradient_booster.model.trees[2].left_children[0]');
  });
});
