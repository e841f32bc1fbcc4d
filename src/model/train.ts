import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  ARTIFACT_FORMAT,
  ARTIFACT_VERSION,
  fillInternalValues,
  quantileName,
  type ModelArtifact,
} from './artifact.js';
import { buildFeatureBins } from './binning.js';
import { boost } from './boost.js';
import { conformalize } from './calibrate.js';
import { binDataset, localAlloc, sharedAlloc } from './dataset.js';
import { TreeGrower } from './grow.js';
import { HIST_STRIDE } from './histogram.js';
import { modelFromArtifact } from './model.js';
import { OBJECTIVES } from './objectives/index.js';
import { startHistWorker } from './parallel.js';
import { DEFAULT_PARAMS, type TrainingData, type TrainParams, type TrainProgress } from './types.js';

/** Below this many rows a second thread costs more in synchronisation than it saves. */
const PARALLEL_ROWS = 100_000;

function resolveParams(given: Partial<TrainParams> = {}): TrainParams {
  const p: TrainParams = { ...DEFAULT_PARAMS, quantiles: [...DEFAULT_PARAMS.quantiles] };
  for (const [k, v] of Object.entries(given))
    if (v !== undefined) (p as unknown as Record<string, unknown>)[k] = v;
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new RangeError(`invalid training parameter: ${what}`);
  };
  check(p.objective in OBJECTIVES, `objective ${String(p.objective)}`);
  check(Number.isInteger(p.nTrees) && p.nTrees >= 1, 'nTrees must be an integer >= 1');
  check(p.learningRate > 0 && p.learningRate <= 1, 'learningRate must be in (0, 1]');
  check(
    Number.isInteger(p.maxDepth) && p.maxDepth >= 1 && p.maxDepth <= 30,
    'maxDepth must be an integer in [1, 30]',
  );
  check(Number.isInteger(p.maxLeaves) && p.maxLeaves >= 0, 'maxLeaves must be an integer >= 0');
  check(p.growth === 'depthwise' || p.growth === 'leafwise', "growth must be 'depthwise' or 'leafwise'");
  check(
    p.lambda >= 0 && p.minChildWeight >= 0 && p.minSplitGain >= 0,
    'lambda, minChildWeight, minSplitGain must be >= 0',
  );
  check(
    p.subsample > 0 && p.subsample <= 1 && p.colsample > 0 && p.colsample <= 1,
    'subsample and colsample must be in (0, 1]',
  );
  check(
    Number.isInteger(p.maxBins) && p.maxBins >= 2 && p.maxBins <= 255,
    'maxBins must be an integer in [2, 255]',
  );
  check(
    Number.isInteger(p.earlyStoppingRounds) && p.earlyStoppingRounds >= 1,
    'earlyStoppingRounds must be >= 1',
  );
  check(Number.isInteger(p.threads) && p.threads >= 0 && p.threads <= 2, 'threads must be 0 (auto), 1 or 2');
  if (p.objective === 'quantile') {
    check(p.quantiles.length > 0 && p.quantiles.every((q) => q > 0 && q < 1), 'quantiles must be in (0, 1)');
    p.quantiles = [...new Set(p.quantiles)].sort((a, b) => a - b);
  }
  return p;
}

function checkData(d: TrainingData, what: string, spec = d.spec): number {
  const n = d.target.length;
  if (n < 2) throw new RangeError(`${what}: needs at least 2 rows`);
  if (d.columns.length !== spec.length)
    throw new RangeError(`${what}: ${d.columns.length} columns for ${spec.length} features`);
  d.columns.forEach((c, f) => {
    if (c.length !== n)
      throw new RangeError(`${what}: column ${spec[f]!.name} has ${c.length} rows, target has ${n}`);
  });
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(d.target[i])) throw new RangeError(`${what}: target of row ${i} is not finite`);
  if (
    d.spec !== spec &&
    JSON.stringify(d.spec.map((s) => [s.name, s.type])) !== JSON.stringify(spec.map((s) => [s.name, s.type]))
  ) {
    throw new RangeError(`${what}: feature spec differs from the training data's`);
  }
  return n;
}

function fingerprint(d: TrainingData): string {
  const h = createHash('sha256').update(JSON.stringify(d.spec));
  for (const c of d.columns) h.update(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
  h.update(new Uint8Array(d.target.buffer, d.target.byteOffset, d.target.byteLength));
  return `sha256:${h.digest('hex')}`;
}

function calibrate(a: ModelArtifact, valid: TrainingData): ModelArtifact['calibration'] {
  const outs = a.outputs;
  if (outs.length < 2) return null;
  const model = modelFromArtifact(a);
  const n = valid.target.length;
  const row = new Float64Array(a.spec.length);
  const pred = new Float64Array(outs.length);
  const lo = new Float64Array(n);
  const hi = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < row.length; f++) row[f] = valid.columns[f]![i]!;
    model.predict(row, pred);
    lo[i] = pred[0]!;
    hi[i] = pred[outs.length - 1]!;
  }
  const nominal = outs[outs.length - 1]!.quantile! - outs[0]!.quantile!;
  return conformalize(valid.target, lo, hi, nominal, {
    lower: outs[0]!.name,
    upper: outs[outs.length - 1]!.name,
  });
}

export async function train(
  trainData: TrainingData,
  valid: TrainingData | undefined,
  params?: Partial<TrainParams>,
  onProgress?: (p: TrainProgress) => void,
): Promise<ModelArtifact> {
  const p = resolveParams(params);
  const n = checkData(trainData, 'train');
  if (valid) checkData(valid, 'valid', trainData.spec);
  const spec = trainData.spec.map((s) => ({
    ...s,
    ...(s.categories ? { categories: [...s.categories] } : {}),
  }));
  const threads = p.threads > 0 ? p.threads : n >= PARALLEL_ROWS && availableParallelism() >= 2 ? 2 : 1;
  const alloc = threads > 1 ? sharedAlloc : localAlloc;
  const featureBins = buildFeatureBins(spec, trainData.columns, p.maxBins, p.seed);
  const binned = binDataset(trainData.columns, n, featureBins, alloc);
  const vBinned = valid && binDataset(valid.columns, valid.target.length, featureBins);
  const histSize = binned.histOffsets[binned.nFeatures]! * HIST_STRIDE;
  const grad = new Float32Array(alloc(n * 4));
  const hess = new Float32Array(alloc(n * 4));
  const rows = new Uint32Array(alloc(n * 4));
  const worker =
    threads > 1
      ? await startHistWorker({ bins: binned.bins, nFeatures: binned.nFeatures, rows, grad, hess, histSize })
      : undefined;
  const outputs: ModelArtifact['outputs'] = [];
  const trees: ModelArtifact['trees'] = [];
  const metrics: ModelArtifact['metrics'] = { outputs: [] };
  try {
    const grower = new TreeGrower(binned, p, rows, worker);
    const quantiles = p.objective === 'quantile' ? p.quantiles : [undefined];
    for (const [k, q] of quantiles.entries()) {
      const objective = OBJECTIVES[p.objective](q ?? 0.5);
      const name = q === undefined ? 'p50' : quantileName(q);
      const input = { train: binned, target: trainData.target, params: p, grower, grad, hess };
      const r = boost(
        vBinned ? { ...input, valid: { data: vBinned, target: valid!.target } } : input,
        objective,
        name,
        k,
        p.seed + k,
        onProgress,
      );
      outputs.push({
        name,
        objective: objective.name,
        ...(q === undefined ? {} : { quantile: q }),
        baseScore: r.baseScore,
      });
      for (const t of r.trees) {
        fillInternalValues(t);
        trees.push(t);
      }
      metrics.outputs.push(r.metrics);
      // Lets timers and I/O run between outputs of a long quantile training.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await worker?.close();
  }
  const artifact: ModelArtifact = {
    format: ARTIFACT_FORMAT,
    formatVersion: ARTIFACT_VERSION,
    spec,
    outputs,
    trees,
    params: { ...p, threads },
    metrics,
    calibration: null,
    trainedAt: new Date().toISOString(),
    dataFingerprint: fingerprint(trainData),
  };
  if (p.objective === 'quantile' && p.calibrate && valid) artifact.calibration = calibrate(artifact, valid);
  return artifact;
}
