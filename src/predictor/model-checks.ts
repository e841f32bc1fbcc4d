import type { Model } from '../model/index.js';

/** Rows and the outputs the model gave them at registration (stored beside the artifact as `golden`). */
export interface Golden {
  rows: Array<Array<number | null>>;
  predictions: number[][];
}

/** Feature rows and the outputs the loading thread predicted for them: the serving thread must get the same. */
export interface Probe {
  rows: Float64Array;
  outputs: Float64Array;
  n: number;
}

/** The first reason a model disagrees with its golden predictions, or undefined. */
export function checkGolden(model: Model, golden: Golden): string | undefined {
  const out = new Float64Array(model.outputNames.length);
  for (let i = 0; i < golden.rows.length; i++) {
    // JSON carries a missing feature as null; the model sees NaN, as online.
    const row = Float64Array.from(golden.rows[i]!, (v) => (v === null ? Number.NaN : v));
    model.predict(row, out);
    const expected = golden.predictions[i]!;
    for (let k = 0; k < expected.length; k++) {
      const want = expected[k]!;
      if (Math.abs(out[k]! - want) > 1e-6 * Math.max(1, Math.abs(want))) {
        return `golden prediction ${i} output ${k}: got ${out[k]}, expected ${want}`;
      }
    }
  }
  return undefined;
}

/** Plausible rows for the model's spec, the same every time (a fixed seed). */
export function warmUpRows(model: Model, rows: number): { rows: Float64Array; n: number } {
  const n = Math.max(1, rows);
  const width = model.spec.length;
  const input = new Float64Array(n * width);
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < width; f++) {
      const spec = model.spec[f]!;
      input[r * width + f] =
        spec.type === 'categorical' ? Math.floor(rand() * (spec.categories?.length ?? 1)) : rand() * 30;
    }
  }
  return { rows: input, n };
}

/**
 * Predicts the warm-up rows (batch and one by one, so both paths are compiled) and refuses a model that answers
 * a non-finite value. Returns the outputs of the first `probeRows` rows for the serving thread to compare.
 */
export function warmUp(
  model: Model,
  rows: number,
  probeRows: number,
): { ok: true; probe: Probe } | { ok: false; reason: string } {
  const { rows: input, n } = warmUpRows(model, rows);
  const width = model.spec.length;
  const nOut = model.outputNames.length;
  const out = new Float64Array(n * nOut);
  model.predictBatch(input, n, out);
  const single = new Float64Array(nOut);
  for (let r = 0; r < Math.min(n, 500); r++)
    model.predict(input.subarray(r * width, (r + 1) * width), single);
  for (const v of out)
    if (!Number.isFinite(v))
      return { ok: false, reason: 'model predicts a non-finite value on warm-up rows' };
  const p = Math.min(n, probeRows);
  return {
    ok: true,
    probe: { rows: input.slice(0, p * width), outputs: out.slice(0, p * nOut), n: p },
  };
}

/**
 * Runs the probe on this thread: a few predictions that warm the swapped-in model and prove the transferred
 * arrays answer exactly what the loading thread computed.
 */
export function checkProbe(model: Model, probe: Probe): string | undefined {
  const nOut = model.outputNames.length;
  const width = model.spec.length;
  const out = new Float64Array(probe.n * nOut);
  model.predictBatch(probe.rows, probe.n, out);
  const single = new Float64Array(nOut);
  for (let r = 0; r < probe.n; r++) {
    model.predict(probe.rows.subarray(r * width, (r + 1) * width), single);
    for (let k = 0; k < nOut; k++) {
      const want = probe.outputs[r * nOut + k]!;
      if (!Object.is(out[r * nOut + k], want) || !Object.is(single[k], want))
        return `model answers ${single[k]} on probe row ${r} output ${k} after the hand-over, the loader got ${want}`;
    }
  }
  return undefined;
}
