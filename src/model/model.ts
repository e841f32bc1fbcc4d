import type { ModelArtifact } from './artifact.js';
import { compile } from './compile.js';
import { Predictor } from './predict.js';
import { Explainer } from './explain.js';
import type { FeatureSpec } from './types.js';

export interface Model {
  readonly spec: FeatureSpec[];
  /** ['p10', 'p50', 'p90'] for quantiles 0.1/0.5/0.9, ['p50'] for squared error and XGBoost imports. */
  readonly outputNames: string[];
  readonly artifact: ModelArtifact;
  /** Row in spec order; out.length >= outputNames.length. Allocates nothing. */
  predict(row: ArrayLike<number>, out: Float64Array): Float64Array;
  /** rows: row-major nRows x nFeatures; out: row-major nRows x nOutputs. Allocates nothing. */
  predictBatch(rows: Float64Array | Float32Array, nRows: number, out: Float64Array): void;
  /** TreeSHAP contributions per feature, bias last; they sum to predict(row)[output]. */
  contributions(row: ArrayLike<number>, output?: number): Float64Array;
  importance(kind: 'gain' | 'split'): Array<{ feature: string; value: number }>;
}

/** Builds a model from an artifact that has already been validated. */
export function modelFromArtifact(artifact: ModelArtifact): Model {
  const compiled = compile(artifact);
  const predictor = new Predictor(compiled);
  const explainer = new Explainer(artifact, compiled.base);
  const nF = artifact.spec.length;
  const nOut = artifact.outputs.length;
  return {
    spec: artifact.spec,
    outputNames: artifact.outputs.map((o) => o.name),
    artifact,
    predict(row, out) {
      if (row.length < nF) throw new RangeError(`row has ${row.length} values, the model needs ${nF}`);
      if (out.length < nOut)
        throw new RangeError(`out has room for ${out.length} outputs, the model has ${nOut}`);
      return predictor.predict(row, out);
    },
    predictBatch(rows, nRows, out) {
      if (rows.length < nRows * nF)
        throw new RangeError(`rows holds ${rows.length} values, ${nRows} rows need ${nRows * nF}`);
      if (out.length < nRows * nOut)
        throw new RangeError(`out holds ${out.length} values, needs ${nRows * nOut}`);
      predictor.predictBatch(rows, nRows, out);
    },
    contributions: (row, output = 0) => explainer.contributions(row, output),
    importance: (kind) => explainer.importance(kind),
  };
}
