import {
  ARTIFACT_FORMAT,
  ARTIFACT_VERSION,
  artifactVersion,
  emptyTree,
  type ArtifactTree,
  type Calibration,
  type ModelArtifact,
  type SegmentCalibration,
  type SegmentCell,
} from './artifact.js';
import { ModelLoadError, type Result } from '../errors.js';
import type { FeatureSpec } from '../types.js';

/** Thrown inside validation only; turned into a Result at the boundary. */
class Invalid extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

type Obj = Record<string, unknown>;
const MAX_CATEGORY = 1 << 24;

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(path, 'must be an object');
  return v as Obj;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new Invalid(path, 'must be an array');
  return v;
}

function finite(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new Invalid(path, `must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new Invalid(path, `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new Invalid(path, 'must be a non-empty string');
  return v;
}

function checkSpec(v: unknown): FeatureSpec[] {
  const spec = arr(v, 'spec');
  if (spec.length === 0) throw new Invalid('spec', 'must list at least one feature');
  const seen = new Set<string>();
  return spec.map((raw, i) => {
    const p = `spec[${i}]`;
    const f = obj(raw, p);
    const name = str(f.name, `${p}.name`);
    if (seen.has(name)) throw new Invalid(`${p}.name`, `duplicate feature name ${JSON.stringify(name)}`);
    seen.add(name);
    if (f.type !== 'numeric' && f.type !== 'categorical')
      throw new Invalid(`${p}.type`, "must be 'numeric' or 'categorical'");
    const out: FeatureSpec = { name, type: f.type };
    if (f.categories !== undefined) {
      if (f.type !== 'categorical')
        throw new Invalid(`${p}.categories`, 'only categorical features have categories');
      out.categories = arr(f.categories, `${p}.categories`).map((c, j) => {
        if (typeof c !== 'string') throw new Invalid(`${p}.categories[${j}]`, 'must be a string');
        return c;
      });
    }
    return out;
  });
}

function checkTree(raw: unknown, p: string, spec: FeatureSpec[], nOut: number): ArtifactTree {
  const t = obj(raw, p);
  const output = int(t.output, `${p}.output`, 0, nOut - 1);
  const keys = ['feature', 'threshold', 'defaultLeft', 'left', 'right', 'value', 'gain', 'cover'] as const;
  const cols = Object.fromEntries(keys.map((k) => [k, arr(t[k], `${p}.${k}`)])) as Record<
    (typeof keys)[number],
    unknown[]
  >;
  const n = cols.feature.length;
  if (n === 0) throw new Invalid(`${p}.feature`, 'a tree needs at least one node');
  for (const k of keys)
    if (cols[k].length !== n) throw new Invalid(`${p}.${k}`, `has ${cols[k].length} entries, expected ${n}`);
  const parents = new Int32Array(n);
  const tree: ArtifactTree = emptyTree(output);
  for (let i = 0; i < n; i++) {
    const l = int(cols.left[i], `${p}.left[${i}]`, -1, n - 1);
    const r = int(cols.right[i], `${p}.right[${i}]`, -1, n - 1);
    const leaf = l === -1;
    if ((r === -1) !== leaf) throw new Invalid(`${p}.right[${i}]`, 'a node has both children or none');
    const f = int(cols.feature[i], `${p}.feature[${i}]`, -1, spec.length - 1);
    if (leaf !== (f === -1))
      throw new Invalid(`${p}.feature[${i}]`, leaf ? 'a leaf has feature -1' : 'a split needs a feature');
    const dl = cols.defaultLeft[i];
    if (dl !== 0 && dl !== 1 && dl !== true && dl !== false)
      throw new Invalid(`${p}.defaultLeft[${i}]`, 'must be 0 or 1');
    for (const c of leaf ? [] : [l, r]) {
      if (c === 0 || c === i)
        throw new Invalid(`${p}.${c === l ? 'left' : 'right'}[${i}]`, `child ${c} would make a cycle`);
      if (++parents[c]! > 1)
        throw new Invalid(`${p}.${c === l ? 'left' : 'right'}[${i}]`, `node ${c} has two parents`);
    }
    tree.feature.push(f);
    tree.left.push(l);
    tree.right.push(r);
    tree.defaultLeft.push(dl === 1 || dl === true ? 1 : 0);
    tree.threshold.push(finite(cols.threshold[i], `${p}.threshold[${i}]`));
    tree.value.push(finite(cols.value[i], `${p}.value[${i}]`));
    tree.gain.push(finite(cols.gain[i], `${p}.gain[${i}]`));
    tree.cover.push(finite(cols.cover[i], `${p}.cover[${i}]`));
  }
  // One parent each and none for the root; reaching every node from the root rules out cycles.
  let reached = 0;
  const stack = [0];
  while (stack.length > 0 && reached <= n) {
    const i = stack.pop()!;
    reached++;
    if (tree.left[i]! >= 0) stack.push(tree.left[i]!, tree.right[i]!);
  }
  if (reached !== n)
    throw new Invalid(`${p}.left`, `only ${reached} of ${n} nodes are reachable from the root`);
  if (t.categorical !== undefined) {
    const seen = new Set<number>();
    tree.categorical = arr(t.categorical, `${p}.categorical`).map((rc, j) => {
      const cp = `${p}.categorical[${j}]`;
      const c = obj(rc, cp);
      const node = int(c.node, `${cp}.node`, 0, n - 1);
      if (tree.left[node]! < 0) throw new Invalid(`${cp}.node`, `node ${node} is a leaf`);
      if (seen.has(node)) throw new Invalid(`${cp}.node`, `node ${node} listed twice`);
      seen.add(node);
      if (spec[tree.feature[node]!]!.type !== 'categorical')
        throw new Invalid(`${cp}.node`, 'splits a numeric feature');
      const set = arr(c.set, `${cp}.set`).map((v, k) => int(v, `${cp}.set[${k}]`, 0, MAX_CATEGORY));
      if (typeof c.setGoesLeft !== 'boolean') throw new Invalid(`${cp}.setGoesLeft`, 'must be a boolean');
      return { node, set, setGoesLeft: c.setGoesLeft };
    });
  }
  for (let i = 0; i < n; i++) {
    if (
      tree.left[i]! >= 0 &&
      spec[tree.feature[i]!]!.type === 'categorical' &&
      !tree.categorical?.some((c) => c.node === i)
    ) {
      throw new Invalid(`${p}.feature[${i}]`, 'categorical feature split without a category set');
    }
  }
  return tree;
}

function check(json: unknown): ModelArtifact {
  const a = obj(json, '(root)');
  if (a.format !== ARTIFACT_FORMAT)
    throw new Invalid('format', `expected ${JSON.stringify(ARTIFACT_FORMAT)}`);
  if (a.formatVersion !== 1 && a.formatVersion !== ARTIFACT_VERSION) {
    throw new Invalid(
      'formatVersion',
      `version ${JSON.stringify(a.formatVersion)} is not supported (this build reads 1 to ${ARTIFACT_VERSION})`,
    );
  }
  const spec = checkSpec(a.spec);
  const outputs = arr(a.outputs, 'outputs').map((raw, i) => {
    const o = obj(raw, `outputs[${i}]`);
    const out: ModelArtifact['outputs'][number] = {
      name: str(o.name, `outputs[${i}].name`),
      objective: str(o.objective, `outputs[${i}].objective`),
      baseScore: finite(o.baseScore, `outputs[${i}].baseScore`),
    };
    if (o.quantile !== undefined) {
      const q = finite(o.quantile, `outputs[${i}].quantile`);
      if (!(q > 0 && q < 1)) throw new Invalid(`outputs[${i}].quantile`, 'must be in (0, 1)');
      out.quantile = q;
    }
    if (o.offset !== undefined) {
      const f = obj(o.offset, `outputs[${i}].offset`);
      if (f.side !== 'below' && f.side !== 'above')
        throw new Invalid(`outputs[${i}].offset.side`, "must be 'below' or 'above'");
      out.offset = { anchor: str(f.anchor, `outputs[${i}].offset.anchor`), side: f.side };
    }
    return out;
  });
  if (outputs.length === 0) throw new Invalid('outputs', 'must list at least one output');
  if (new Set(outputs.map((o) => o.name)).size !== outputs.length)
    throw new Invalid('outputs', 'output names must be unique');
  checkOffsets(outputs);
  const trees = arr(a.trees, 'trees').map((t, i) => checkTree(t, `trees[${i}]`, spec, outputs.length));
  const params = obj(a.params, 'params');
  const metrics = obj(a.metrics, 'metrics');
  arr(metrics.outputs, 'metrics.outputs');
  const calibration =
    a.calibration !== null && a.calibration !== undefined ? checkCalibration(a.calibration, outputs) : null;
  const trainedAt = str(a.trainedAt, 'trainedAt');
  const out: ModelArtifact = {
    format: ARTIFACT_FORMAT,
    formatVersion: a.formatVersion,
    spec,
    outputs,
    trees,
    params,
    metrics: metrics as ModelArtifact['metrics'],
    calibration,
    trainedAt,
  };
  if (a.dataFingerprint !== undefined) out.dataFingerprint = str(a.dataFingerprint, 'dataFingerprint');
  if (a.source !== undefined) out.source = obj(a.source, 'source') as ModelArtifact['source'];
  if (artifactVersion(out) > a.formatVersion)
    throw new Invalid('formatVersion', 'offsets and scaled or segment calibration need format 2');
  return out;
}

/** Each anchor names another output, and following anchors ends at a plain output (no cycle). */
function checkOffsets(outputs: ModelArtifact['outputs']): void {
  const byName = new Map(outputs.map((o) => [o.name, o]));
  outputs.forEach((o, i) => {
    let at = o;
    for (let steps = 0; at.offset; steps++) {
      const next = byName.get(at.offset.anchor);
      if (!next) throw new Invalid(`outputs[${i}].offset.anchor`, 'must name an output');
      if (steps >= outputs.length) throw new Invalid(`outputs[${i}].offset.anchor`, 'anchors form a cycle');
      at = next;
    }
  });
}

function checkCalibration(raw: unknown, outputs: ModelArtifact['outputs']): Calibration {
  const c = obj(raw, 'calibration');
  if (c.method !== 'cqr') throw new Invalid('calibration.method', "must be 'cqr'");
  const names = ['lower', 'upper'] as const;
  for (const k of names) {
    if (!outputs.some((o) => o.name === c[k])) throw new Invalid(`calibration.${k}`, 'must name an output');
  }
  for (const k of ['nominal', 'adjustment', 'rows', 'validCoverageBefore', 'validCoverageAfter'] as const)
    finite(c[k], `calibration.${k}`);
  const out: Calibration = {
    method: 'cqr',
    lower: c.lower as string,
    upper: c.upper as string,
    nominal: c.nominal as number,
    adjustment: c.adjustment as number,
    rows: c.rows as number,
    validCoverageBefore: c.validCoverageBefore as number,
    validCoverageAfter: c.validCoverageAfter as number,
  };
  if (c.score !== undefined && c.score !== 'additive' && c.score !== 'scaled')
    throw new Invalid('calibration.score', "must be 'additive' or 'scaled'");
  if (c.score === 'additive') out.score = 'additive';
  if (c.score === 'scaled') {
    const center = outputs.find((o) => o.name === c.center);
    if (!center || center.offset)
      throw new Invalid('calibration.center', 'must name a plain (median) output');
    if (!outputs.some((o) => o.offset))
      throw new Invalid('calibration.score', "'scaled' needs non-crossing (offset) outputs");
    if (!((c.adjustment as number) > 0))
      throw new Invalid('calibration.adjustment', 'a scaled factor must be > 0');
    out.score = 'scaled';
    out.center = center.name;
  }
  if (c.segments !== undefined) {
    if (out.score !== 'scaled')
      throw new Invalid('calibration.segments', "per-segment factors need the 'scaled' score");
    out.segments = checkSegments(c.segments);
  }
  return out;
}

function checkSegments(raw: unknown): SegmentCalibration {
  const s = obj(raw, 'calibration.segments');
  const columns = arr(s.columns, 'calibration.segments.columns').map((c, i) =>
    str(c, `calibration.segments.columns[${i}]`),
  );
  if (columns.length === 0) throw new Invalid('calibration.segments.columns', 'must name a column');
  const minRows = int(s.minRows, 'calibration.segments.minRows', 1, Number.MAX_SAFE_INTEGER);
  const shrinkRows = finite(s.shrinkRows, 'calibration.segments.shrinkRows');
  if (shrinkRows < 0) throw new Invalid('calibration.segments.shrinkRows', 'must be >= 0');
  const seen = new Set<string>();
  const cells = arr(s.cells, 'calibration.segments.cells').map((rc, i): SegmentCell => {
    const p = `calibration.segments.cells[${i}]`;
    const c = obj(rc, p);
    const labels = arr(c.labels, `${p}.labels`).map((l, j) => {
      if (typeof l !== 'string') throw new Invalid(`${p}.labels[${j}]`, 'must be a string');
      return l;
    });
    if (labels.length > columns.length) throw new Invalid(`${p}.labels`, 'more labels than columns');
    const key = JSON.stringify(labels);
    if (seen.has(key)) throw new Invalid(`${p}.labels`, 'cell listed twice');
    seen.add(key);
    const factor = finite(c.factor, `${p}.factor`);
    if (factor < 0) throw new Invalid(`${p}.factor`, 'must be >= 0');
    if (c.source !== 'own' && c.source !== 'parent')
      throw new Invalid(`${p}.source`, "must be 'own' or 'parent'");
    return {
      labels,
      rows: int(c.rows, `${p}.rows`, 0, Number.MAX_SAFE_INTEGER),
      factor,
      source: c.source,
      coverageBefore: finite(c.coverageBefore, `${p}.coverageBefore`),
      coverageAfter: finite(c.coverageAfter, `${p}.coverageAfter`),
      scores: arr(c.scores, `${p}.scores`).map((v, j) => {
        const x = finite(v, `${p}.scores[${j}]`);
        if (x < 0) throw new Invalid(`${p}.scores[${j}]`, 'must be >= 0');
        return x;
      }),
    };
  });
  if (!seen.has('[]'))
    throw new Invalid('calibration.segments.cells', 'must hold the pooled cell (labels [])');
  return { columns, minRows, shrinkRows, cells };
}

/** Validates an etaserve artifact completely; the value is a clean copy safe to compile. */
export function validateArtifact(json: unknown): Result<ModelArtifact> {
  try {
    return { ok: true, value: check(json) };
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    const code =
      e.path === 'format' || e.path === 'formatVersion' ? 'unsupported_format' : 'invalid_artifact';
    return { ok: false, error: new ModelLoadError(code, e.message, e.path) };
  }
}
