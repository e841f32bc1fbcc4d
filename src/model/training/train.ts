import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  ARTIFACT_FORMAT,
  artifactVersion,
  fillInternalValues,
  quantileName,
  type ArtifactOutput,
  type ArtifactTree,
  type ModelArtifact,
  type OutputMetrics,
} from '../formats/artifact.js';
import { buildFeatureBins } from './binning.js';
import { boost } from './boost.js';
import { conformalize, conformalizeScaled } from '../calibration/calibrate.js';
import { binDataset, localAlloc, sharedAlloc } from './dataset.js';
import { TreeGrower } from './grow.js';
import { HIST_STRIDE } from './histogram.js';
import { OBJECTIVES } from './objectives/index.js';
import { startHistWorker } from './parallel.js';
import {
  gapFloor,
  gapLevel,
  gapTarget,
  offsetPlan,
  predictOutput,
  type OutputPlan,
} from './quantile-offsets.js';
import { servedRanges, withSegmentCalibration } from '../calibration/segments.js';
import { DEFAULT_PARAMS, type TrainingData, type TrainParams, type TrainProgress } from '../types.js';

/** Below this many rows a second thread costs more in synchronisation than it saves. */
const PARALLEL_ROWS = 100_000;

function resolveParams(given: Partial<TrainParams> = {}): TrainParams {
  const p: TrainParams = {
    ...DEFAULT_PARAMS,
    quantiles: [...DEFAULT_PARAMS.quantiles],
    segmentColumns: [...DEFAULT_PARAMS.segmentColumns],
  };
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
  check(
    p.quantileMethod === 'offsets' || p.quantileMethod === 'independent',
    "quantileMethod must be 'offsets' or 'independent'",
  );
  check(
    Number.isInteger(p.segmentMinRows) && p.segmentMinRows >= 1,
    'segmentMinRows must be an integer >= 1',
  );
  check(p.segmentShrinkRows >= 0, 'segmentShrinkRows must be >= 0');
  check(
    Array.isArray(p.segmentColumns) && p.segmentColumns.every((c) => typeof c === 'string' && c !== ''),
    'segmentColumns must be column names',
  );
  if (p.objective === 'quantile') {
    check(p.quantiles.length > 0 && p.quantiles.every((q) => q > 0 && q < 1), 'quantiles must be in (0, 1)');
    // Offsets hang off the median, so it is always trained.
    const wanted = p.quantileMethod === 'offsets' ? [...p.quantiles, 0.5] : p.quantiles;
    p.quantiles = [...new Set(wanted)].sort((a, b) => a - b);
  }
  if (p.segmentColumns.length > 0)
    check(
      p.objective === 'quantile' && p.quantileMethod === 'offsets' && p.calibrate,
      "segmentColumns need objective 'quantile', quantileMethod 'offsets' and calibrate",
    );
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
  const { lo, median, hi } = servedRanges(a, valid);
  const nominal = outs[outs.length - 1]!.quantile! - outs[0]!.quantile!;
  const lower = outs[0]!.name;
  const upper = outs[outs.length - 1]!.name;
  if (outs.some((o) => o.offset)) {
    const center = outs.find((o) => o.quantile === 0.5)!.name;
    return conformalizeScaled(valid.target, lo, median, hi, nominal, { lower, center, upper });
  }
  return conformalize(valid.target, lo, hi, nominal, { lower, upper });
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
    const offsets = p.objective === 'quantile' && p.quantileMethod === 'offsets';
    const plan: OutputPlan[] = offsets
      ? offsetPlan(p.quantiles)
      : p.objective === 'quantile'
        ? p.quantiles.map((q, index) => ({ index, quantile: q, name: quantileName(q) }))
        : [{ index: 0, quantile: 0.5, name: 'p50' }];
    // Predictions of trained outputs on the train and validation rows, kept while an outer output needs them.
    const fitted = new Map<number, { train: Float64Array; valid?: Float64Array }>();
    const dependants = new Map<number, number>();
    for (const o of plan)
      if (o.anchor !== undefined) dependants.set(o.anchor, (dependants.get(o.anchor) ?? 0) + 1);
    const slots: Array<{ output: ArtifactOutput; trees: ArtifactTree[]; metrics: OutputMetrics }> = [];
    for (const step of plan) {
      const k = step.index;
      const anchor = step.anchor === undefined ? undefined : fitted.get(step.anchor)!;
      const side = step.side ?? 'below';
      const floor = anchor ? gapFloor(trainData.target, anchor.train) : 0;
      const trainTarget = anchor ? gapTarget(trainData.target, anchor.train, side, floor) : trainData.target;
      const validTarget =
        valid && (anchor ? gapTarget(valid.target, anchor.valid!, side, floor) : valid.target);
      const level = anchor ? gapLevel(step.quantile, side) : step.quantile;
      const objective = OBJECTIVES[p.objective](level);
      const input = { train: binned, target: trainTarget, params: p, grower, grad, hess };
      const r = boost(
        vBinned && validTarget ? { ...input, valid: { data: vBinned, target: validTarget } } : input,
        objective,
        step.name,
        k,
        p.seed + k,
        onProgress,
      );
      for (const t of r.trees) fillInternalValues(t);
      slots[k] = {
        output: {
          name: step.name,
          objective: objective.name,
          ...(p.objective === 'quantile' ? { quantile: step.quantile } : {}),
          baseScore: r.baseScore,
          ...(anchor ? { offset: { anchor: quantileName(p.quantiles[step.anchor!]!), side } } : {}),
        },
        trees: r.trees,
        metrics: anchor ? { ...r.metrics, space: 'log-gap' } : r.metrics,
      };
      if (dependants.has(k)) {
        const predict = (d: Pick<TrainingData, 'columns' | 'target'>, a?: Float64Array): Float64Array =>
          predictOutput(spec, d, r.trees, r.baseScore, a && { anchor: a, side });
        fitted.set(k, {
          train: predict(trainData, anchor?.train),
          ...(valid ? { valid: predict(valid, anchor?.valid) } : {}),
        });
      }
      if (step.anchor !== undefined) {
        const left = dependants.get(step.anchor)! - 1;
        dependants.set(step.anchor, left);
        if (left === 0) fitted.delete(step.anchor);
      }
      // Lets timers and I/O run between outputs of a long quantile training.
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const slot of slots) {
      outputs.push(slot.output);
      trees.push(...slot.trees);
      metrics.outputs.push(slot.metrics);
    }
  } finally {
    await worker?.close();
  }
  const artifact: ModelArtifact = {
    format: ARTIFACT_FORMAT,
    formatVersion: 1,
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
  artifact.formatVersion = artifactVersion(artifact);
  if (p.segmentColumns.length === 0) return artifact;
  if (!valid) throw new RangeError('segment calibration needs validation data');
  return withSegmentCalibration(artifact, valid, {
    columns: p.segmentColumns,
    minRows: p.segmentMinRows,
    shrinkRows: p.segmentShrinkRows,
  });
}
