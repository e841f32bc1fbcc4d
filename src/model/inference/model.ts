import type { ModelArtifact } from '../formats/artifact.js';
import { compile, type Compiled } from './compile.js';
import { Predictor } from './predict.js';
import { Explainer } from './explain.js';
import type { FeatureSpec } from '../types.js';

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

/**
 * A validated, compiled model as plain data (small JSON and typed arrays), so it can be built on one thread and
 * posted to another with its arrays transferred rather than copied. The serving thread then only wraps it.
 */
export interface PortableModel {
  spec: FeatureSpec[];
  outputNames: string[];
  compiled: Compiled;
}

/** Builds a model from an artifact that has already been validated. */
export function modelFromArtifact(artifact: ModelArtifact): Model {
  return modelFromPortable(portableOf(artifact), () => artifact);
}

/** Compiles a validated artifact into its portable form. */
export function portableOf(artifact: ModelArtifact): PortableModel {
  return {
    spec: artifact.spec,
    outputNames: artifact.outputs.map((o) => o.name),
    compiled: compile(artifact),
  };
}

/**
 * Wraps a portable model as a `Model`. Only prediction is built now; the artifact (needed by TreeSHAP and
 * importance, never on the hot path) is asked of `artifact` on first use, so a swap does not pay for it.
 */
export function modelFromPortable(model: PortableModel, artifact: () => ModelArtifact): Model {
  const { spec, outputNames, compiled } = model;
  const predictor = new Predictor(compiled);
  const nF = spec.length;
  const nOut = outputNames.length;
  let full: ModelArtifact | undefined;
  let explainer: Explainer | undefined;
  const source = (): ModelArtifact => (full ??= artifact());
  const explain = (): Explainer => (explainer ??= new Explainer(source(), compiled.base));
  return {
    spec,
    outputNames,
    get artifact() {
      return source();
    },
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
    contributions: (row, output = 0) => explain().contributions(row, output),
    importance: (kind) => explain().importance(kind),
  };
}
