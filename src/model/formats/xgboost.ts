import {
  ARTIFACT_FORMAT,
  emptyTree,
  fillInternalValues,
  quantileName,
  type ArtifactTree,
  type ModelArtifact,
} from './artifact.js';
import { ModelLoadError, type Result } from '../errors.js';
import type { FeatureSpec } from '../types.js';

/** XGBoost objectives whose prediction is the raw margin (no link function). */
const IDENTITY_OBJECTIVES = new Set([
  'reg:squarederror',
  'reg:linear',
  'reg:absoluteerror',
  'reg:quantileerror',
  'reg:pseudohubererror',
  'reg:squaredlogerror',
]);

class Bad extends Error {
  constructor(
    readonly path: string,
    message: string,
    readonly code: 'unsupported_format' | 'invalid_artifact' = 'invalid_artifact',
  ) {
    super(message);
  }
}

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Bad(path, 'must be an object');
  return v as Obj;
}

/** A copy of a numeric array; with `nullIsNaN`, null (XGBoost's NaN once made valid JSON) reads as NaN. */
function nums(v: unknown, path: string, n?: number, nullIsNaN = false): number[] {
  if (!Array.isArray(v)) throw new Bad(path, 'must be an array');
  if (n !== undefined && v.length !== n) throw new Bad(path, `has ${v.length} entries, expected ${n}`);
  return v.map((x: unknown, i) => {
    if (typeof x === 'boolean') return x ? 1 : 0;
    if (x === null && nullIsNaN) return NaN;
    if (typeof x !== 'number' || (!Number.isFinite(x) && !nullIsNaN)) {
      throw new Bad(`${path}[${i}]`, `must be a finite number, got ${JSON.stringify(x)}`);
    }
    return x;
  });
}

/** XGBoost writes scalars as strings ("2.2770000E3") and vectors as "[0.1,0.9]". */
function numList(v: unknown, path: string): number[] {
  if (typeof v === 'number') return [v];
  if (typeof v !== 'string') throw new Bad(path, 'must be a number or numeric string');
  const out = v
    .replace(/^\[|\]$/g, '')
    .split(',')
    .map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((x) => !Number.isFinite(x)))
    throw new Bad(path, `not numeric: ${JSON.stringify(v)}`);
  return out;
}

function convertTree(raw: unknown, p: string, output: number, weight: number, nF: number): ArtifactTree {
  const t = obj(raw, p);
  const left = nums(t.left_children, `${p}.left_children`);
  const n = left.length;
  const right = nums(t.right_children, `${p}.right_children`, n);
  const feat = nums(t.split_indices, `${p}.split_indices`, n);
  const cond = nums(t.split_conditions, `${p}.split_conditions`, n, true);
  const dl = nums(t.default_left, `${p}.default_left`, n);
  const gain =
    t.loss_changes === undefined
      ? new Array<number>(n).fill(0)
      : nums(t.loss_changes, `${p}.loss_changes`, n);
  const cover =
    t.sum_hessian === undefined ? new Array<number>(n).fill(1) : nums(t.sum_hessian, `${p}.sum_hessian`, n);
  const cats = new Map<number, number[]>();
  if (Array.isArray(t.categories_nodes) && t.categories_nodes.length > 0) {
    const nodes = nums(t.categories_nodes, `${p}.categories_nodes`);
    const segs = nums(t.categories_segments, `${p}.categories_segments`, nodes.length);
    const sizes = nums(t.categories_sizes, `${p}.categories_sizes`, nodes.length);
    const all = nums(t.categories, `${p}.categories`);
    nodes.forEach((node, k) => {
      const end = segs[k]! + sizes[k]!;
      if (segs[k]! < 0 || end > all.length)
        throw new Bad(`${p}.categories_segments[${k}]`, 'points outside categories');
      cats.set(node, all.slice(segs[k]!, end));
    });
  }
  const splitType = Array.isArray(t.split_type) ? nums(t.split_type, `${p}.split_type`, n) : undefined;
  const out: ArtifactTree = emptyTree(output);
  // Renumber breadth-first from the root; nodes XGBoost pruned but kept in the arrays drop out.
  const ref = new Map<number, number>([[0, 0]]);
  const queue = [0];
  for (let qi = 0; qi < queue.length; qi++) {
    const i = queue[qi]!;
    const l = left[i]!;
    const r = right[i]!;
    const isLeaf = l === -1;
    if (!isLeaf) {
      for (const [c, name] of [
        [l, 'left_children'],
        [r, 'right_children'],
      ] as const) {
        if (!Number.isInteger(c) || c <= 0 || c >= n || ref.has(c))
          throw new Bad(`${p}.${name}[${i}]`, `bad child index ${c}`);
        ref.set(c, ref.size);
        queue.push(c);
      }
      if (!Number.isInteger(feat[i]) || feat[i]! < 0 || feat[i]! >= nF)
        throw new Bad(`${p}.split_indices[${i}]`, `feature ${feat[i]} out of range`);
    }
    const isCat = !isLeaf && (cats.has(i) || splitType?.[i] === 1);
    if (!isCat && !Number.isFinite(cond[i]))
      throw new Bad(`${p}.split_conditions[${i}]`, `must be a finite number, got ${cond[i]}`);
    out.feature.push(isLeaf ? -1 : feat[i]!);
    out.threshold.push(isLeaf || isCat ? 0 : Math.fround(cond[i]!));
    out.defaultLeft.push(!isLeaf && dl[i] ? 1 : 0);
    out.left.push(isLeaf ? -1 : ref.get(l)!);
    out.right.push(isLeaf ? -1 : ref.get(r)!);
    out.value.push(isLeaf ? Math.fround(cond[i]!) * weight : 0);
    out.gain.push(isLeaf ? 0 : gain[i]!);
    out.cover.push(cover[i]!);
    if (isCat) {
      // XGBoost sends listed categories right and every other value (also invalid ones) left.
      (out.categorical ??= []).push({ node: ref.get(i)!, set: cats.get(i) ?? [], setGoesLeft: false });
    }
  }
  fillInternalValues(out);
  return out;
}

function convert(json: Obj): ModelArtifact {
  const learner = obj(json.learner, 'learner');
  const lmp = obj(learner.learner_model_param, 'learner.learner_model_param');
  const objective = obj(learner.objective, 'learner.objective');
  const objName = String(objective.name);
  if (!IDENTITY_OBJECTIVES.has(objName)) {
    throw new Bad(
      'learner.objective.name',
      `objective ${objName} is not supported (regression objectives without a link only)`,
      'unsupported_format',
    );
  }
  const gb = obj(learner.gradient_booster, 'learner.gradient_booster');
  let modelPath = 'learner.gradient_booster.model';
  let weights: number[] | undefined;
  if (gb.name === 'dart') {
    modelPath = 'learner.gradient_booster.gbtree.model';
    weights = nums(gb.weight_drop, 'learner.gradient_booster.weight_drop');
  } else if (gb.name !== 'gbtree') {
    throw new Bad(
      'learner.gradient_booster.name',
      `booster ${String(gb.name)} is not supported (gbtree or dart)`,
      'unsupported_format',
    );
  }
  const model = obj(
    modelPath === 'learner.gradient_booster.model'
      ? gb.model
      : obj(gb.gbtree, 'learner.gradient_booster.gbtree').model,
    modelPath,
  );
  const nF = numList(lmp.num_feature, 'learner.learner_model_param.num_feature')[0]!;
  if (!Number.isInteger(nF) || nF < 1)
    throw new Bad('learner.learner_model_param.num_feature', 'must be a positive integer');
  const names = Array.isArray(learner.feature_names) ? (learner.feature_names as unknown[]) : [];
  const types = Array.isArray(learner.feature_types) ? (learner.feature_types as unknown[]) : [];
  const spec: FeatureSpec[] = Array.from({ length: nF }, (_, f) => ({
    name: typeof names[f] === 'string' ? (names[f] as string) : `f${f}`,
    type: types[f] === 'c' ? 'categorical' : 'numeric',
  }));
  let quantiles: number[] | undefined;
  const qp = objective.quantile_loss_param as Obj | undefined;
  if (objName === 'reg:quantileerror' && qp?.quantile_alpha !== undefined)
    quantiles = numList(qp.quantile_alpha, 'learner.objective.quantile_loss_param.quantile_alpha');
  const nTargets = Math.max(1, numList(lmp.num_target ?? '1', 'learner.learner_model_param.num_target')[0]!);
  const base = numList(lmp.base_score, 'learner.learner_model_param.base_score');
  const outputs = Array.from({ length: nTargets }, (_, k) => {
    const q = quantiles?.[k];
    return {
      name: q !== undefined ? quantileName(q) : nTargets === 1 ? 'p50' : `target${k}`,
      objective: objName,
      ...(q !== undefined ? { quantile: q } : {}),
      baseScore: base[k] ?? base[0]!,
    };
  });
  const rawTrees = model.trees;
  if (!Array.isArray(rawTrees)) throw new Bad(`${modelPath}.trees`, 'must be an array');
  const info =
    model.tree_info === undefined
      ? rawTrees.map(() => 0)
      : nums(model.tree_info, `${modelPath}.tree_info`, rawTrees.length);
  const trees = rawTrees.map((t, i) => {
    const output = info[i]!;
    if (!Number.isInteger(output) || output < 0 || output >= nTargets)
      throw new Bad(`${modelPath}.tree_info[${i}]`, `output ${output} out of range`);
    return convertTree(t, `${modelPath}.trees[${i}]`, output, weights?.[i] ?? 1, nF);
  });
  const version = Array.isArray(json.version) ? json.version.join('.') : undefined;
  const attrs = (learner.attributes ?? {}) as Obj;
  return {
    format: ARTIFACT_FORMAT,
    // Plain outputs and no calibration: format 1, which every reader takes.
    formatVersion: 1,
    spec,
    outputs,
    trees,
    params: {
      source: 'xgboost',
      objective: objName,
      booster: gb.name,
      ...(attrs.best_iteration !== undefined ? { bestIteration: Number(attrs.best_iteration) } : {}),
    },
    metrics: { outputs: [] },
    calibration: null,
    trainedAt: new Date(0).toISOString(),
    source: { library: 'xgboost', ...(version ? { version } : {}), objective: objName },
  };
}

export function isXgboostJson(json: unknown): boolean {
  return typeof json === 'object' && json !== null && 'learner' in json;
}

/** Converts an XGBoost JSON model (save_model("m.json"), 1.7+) into an equivalent etaserve artifact. */
export function fromXgboost(json: unknown): Result<ModelArtifact> {
  try {
    return { ok: true, value: convert(obj(json, '(root)')) };
  } catch (e) {
    if (!(e instanceof Bad)) throw e;
    return { ok: false, error: new ModelLoadError(e.code, `XGBoost model: ${e.message}`, e.path) };
  }
}
