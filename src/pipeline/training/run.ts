import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { saveZoneSpeeds, speedsFileOf, type GeoConfig, type ZoneSpeedTable } from '../../geo/index.js';
import { loadModel, type TrainParams } from '../../model/index.js';
import {
  promote,
  setChallenger,
  type EvaluationSet,
  type ModelDomain,
  type ModelRecord,
  type ModelRegistry,
} from '../../registry/index.js';
import type { PipelineConfig } from '../config.js';
import { describeHoldout, scoreHoldout, type HoldoutScores } from './holdout.js';
import {
  checkCompatibility,
  describeComparison,
  judgePromotion,
  type Comparison,
  type PolicyDecision,
  type ShadowSummary,
} from '../promotion/policy.js';
import { applyRetention } from '../promotion/promotion.js';
import { buildReport, writeReport, type RunReport } from '../report/report.js';
import type { OrderLegsArtifact } from '../../orders/index.js';
import { trainOrderLegs } from './order-legs.js';
import { formatMetrics, trainFromHistory } from './train-model.js';
import type { TrainingTable } from '../etl/training-table.js';
import type { OrderHistory } from '../history.js';

/** Orders to train on, from wherever they came: simulated, the lake, a CSV. */
export interface TrainingData {
  history: OrderHistory;
  /** For the report and the registry's `source`: "lake:2026-01-01..2026-01-15", "csv:orders.csv". */
  describe: string;
  /** The SQL ETL for lake data; absent: the TypeScript replay. */
  buildTable?: (speeds: ZoneSpeedTable) => Promise<TrainingTable>;
  /** Train only on orders created in [fromMs, toMs); earlier ones still build state. */
  window?: { fromMs: number; toMs: number };
  close?: () => Promise<void>;
}

export interface TrainingRunOptions {
  registry: ModelRegistry;
  dataDir: string;
  pipeline: PipelineConfig;
  geo?: Partial<GeoConfig>;
  params?: Partial<TrainParams>;
  log: (line: string) => void;
  /** Online comparison of the current challenger, from the shadow join, when there is one. */
  shadow?: ShadowSummary;
  /** `policy` (default) promotes when the policy passes; `challenger` registers as challenger for a person. */
  promotion?: 'policy' | 'challenger' | 'none';
  runId?: string;
  /** Who runs it, for the audit log: "schedule", "cli", "pipeline" (default). */
  actor?: string;
  /** The caller uses `data` once: its rider pings may go once the training table is built (see trainFromHistory). */
  releasePings?: boolean;
}

export interface TrainingRunResult {
  runId: string;
  record: ModelRecord;
  decision: PolicyDecision;
  promoted: boolean;
  /** Champion and new model side by side on the hold-out, in plain words. */
  comparison: Comparison;
  /** Versions deleted by retention after this run. */
  deleted: string[];
  report: RunReport;
  reportFiles: { json: string; html: string };
}

export const reportsDirOf = (dataDir: string): string => path.join(dataDir, 'reports');

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
}

/**
 * One training run: train on the data (time-ordered split), score the new model and the champion on the same
 * hold-out rows, decide with the policy, register, promote if it passed, and write the report. Every decision is
 * logged with its numbers.
 */
export async function runTraining(
  data: TrainingData,
  options: TrainingRunOptions,
): Promise<TrainingRunResult> {
  const runId = options.runId ?? newRunId();
  const startedAt = new Date().toISOString();
  const log = (line: string): void => options.log(`[run ${runId}] ${line}`);
  const { pipeline } = options;
  let orderLegs: OrderLegsArtifact | undefined;
  const trained = await trainFromHistory(data.history, {
    params: { nTrees: pipeline.trees, ...options.params },
    split: { train: pipeline.trainShare, valid: pipeline.validShare },
    geo: options.geo,
    buildTable: data.buildTable,
    window: data.window,
    releasePings: options.releasePings ?? false,
    // The order legs train on the same rows, while the rider pings are still there.
    withTable: async (checkoutTable) => {
      if (pipeline.orderLegs) orderLegs = await trainLegs(data, checkoutTable, options, log);
    },
    onProgress: (p) => {
      if (p.stage !== 'train') log(`${p.stage}: ${p.message}`);
    },
  });
  const { table, nValid } = trained;
  const model = loadModel(trained.artifact);
  if (!model.ok) throw new Error(`the trained model does not load: ${model.error.message}`);
  const candidate = scoreHoldout(model.value, 'candidate', table, nValid, table.nRows);

  let champion: HoldoutScores | undefined;
  const championVersion = await options.registry.resolve('champion');
  const championRecord = championVersion ? await options.registry.get(championVersion) : undefined;
  const features = table.spec.map((s) => s.name);
  if (championVersion) {
    const loaded = loadModel(stripGolden(await options.registry.loadArtifact(championVersion)));
    if (loaded.ok && loaded.value.spec.map((s) => s.name).join() === features.join())
      champion = scoreHoldout(loaded.value, championVersion, table, nValid, table.nRows);
    else log(`champion ${championVersion} has other inputs: it cannot be scored on this hold-out`);
  }
  const domain = domainOf(features, data.history.stores);
  const bias = (h: HoldoutScores): number => meanDiff(h.p50, table.target, nValid);
  const metrics = {
    ...trained.metrics,
    bias_s: bias(candidate),
    ...(champion ? { champion_mae_s: champion.metrics.mae_s! } : {}),
  };
  let record = await options.registry.register(trained.artifact, {
    source: `${data.describe}:run=${runId}`,
    metrics,
    golden: trained.golden,
    profile: trained.profile,
    domain,
    evaluation: evaluationSet(table, nValid),
    zoneSpeeds: trained.speeds,
    ...(orderLegs ? { orderLegs } : {}),
  });
  const side = (h: HoldoutScores, version: string): Comparison['challenger'] => ({
    version,
    mae_s: h.metrics.mae_s!,
    bias_s: bias(h),
    ...(h.metrics.coverage_p10_p90 !== undefined ? { coverage: h.metrics.coverage_p10_p90 } : {}),
  });
  const comparison: Comparison = {
    basis: champion ? 'same-rows' : 'none',
    rows: table.nRows - nValid,
    window: { fromMs: table.createdAtMs[nValid] ?? 0, toMs: table.createdAtMs[table.nRows - 1] ?? 0 },
    challenger: side(candidate, record.version),
    ...(champion ? { champion: side(champion, champion.version) } : {}),
  };
  if (championVersion && !champion && championRecord?.metrics.mae_s !== undefined)
    Object.assign(comparison, {
      basis: 'recorded',
      champion: { version: championVersion, mae_s: championRecord.metrics.mae_s },
    });
  const compatibility = championRecord
    ? checkCompatibility(
        { version: record.version, features, domain },
        {
          version: championRecord.version,
          features: championRecord.domain?.features ?? (champion ? features : []),
          ...(championRecord.domain ? { domain: championRecord.domain } : {}),
        },
      )
    : { problems: [], notes: [] };
  const decision = judgePromotion(pipeline.policy, 'auto', comparison, compatibility, options.shadow);
  const checks = decision.checks.map((c) => `${c.passed ? 'pass' : 'FAIL'} ${c.rule} [${c.detail}]`);
  log(`policy decision: ${[decision.summary, ...checks].join('; ')}`);
  log(describeComparison(comparison));

  const actor = options.actor ?? 'pipeline';
  const mode = options.promotion ?? (pipeline.policy.autoPromote ? 'policy' : 'challenger');
  let promoted = false;
  if (decision.promote && (mode === 'policy' || !championVersion)) {
    record = await promote(options.registry, record.version, `policy: ${decision.summary}`);
    promoted = true;
    await options.registry.appendAudit({
      action: 'promote',
      version: record.version,
      previous: championVersion ?? null,
      actor,
      forced: false,
      reason: null,
      summary: `${decision.summary}. ${describeComparison(comparison)}`,
    });
    await saveZoneSpeeds(speedsFileOf(options.dataDir, options.geo?.speedsFile ?? ''), trained.speeds);
  } else if (mode !== 'none' && compatibility.problems.length === 0 && !worse(comparison)) {
    // Only a challenger that could be promoted gets live (shadow and canary) traffic.
    await setChallenger(options.registry, record.version);
    record = (await options.registry.get(record.version))!;
  } else if (mode !== 'none') {
    log(`${record.version} is not made the challenger: the policy would refuse it (${decision.summary})`);
  }
  log(
    `registered ${record.version}${record.aliases.length ? ` (${record.aliases.join(', ')})` : ''}: ${formatMetrics(trained.metrics)}`,
  );
  const deleted = await applyRetention(
    options.registry,
    { keepVersions: pipeline.keepVersions ?? 10, keepPreviousChampions: pipeline.keepPreviousChampions ?? 3 },
    actor,
  );
  if (deleted.length) log(`retention: deleted ${deleted.join(', ')}`);

  const holdout = describeHoldout(table, data.history, nValid, table.nRows);
  const report = buildReport({
    runId,
    startedAt,
    source: data.describe,
    window: {
      fromMs: table.createdAtMs[0] ?? 0,
      toMs: table.createdAtMs[table.nRows - 1] ?? 0,
      rows: table.nRows,
      train: trained.nTrain,
      valid: nValid - trained.nTrain,
      test: table.nRows - nValid,
    },
    candidateVersion: record.version,
    holdout,
    // The training metrics are the same hold-out's, plus the naive quote and the split sizes.
    candidate: { ...candidate, metrics: trained.metrics },
    champion,
    importance: model.value.importance('gain'),
    decision,
    promoted,
  });
  const reportFiles = await writeReport(reportsDirOf(options.dataDir), report);
  log(`report: ${reportFiles.html}`);
  return { runId, record, decision, promoted, comparison, deleted, report, reportFiles };
}

function stripGolden(json: unknown): unknown {
  if (typeof json !== 'object' || json === null) return json;
  const { golden: _golden, ...artifact } = json as Record<string, unknown>;
  return artifact;
}

const worse = (c: Comparison): boolean =>
  c.champion !== undefined && c.basis === 'same-rows' && c.challenger.mae_s > c.champion.mae_s;

/** The newest hold-out rows kept with a version, so a later promotion scores both models on the same orders. */
const EVALUATION_ROWS = 2000;

function evaluationSet(table: TrainingTable, from: number): EvaluationSet {
  const start = Math.max(from, table.nRows - EVALUATION_ROWS);
  const nan = (v: number): number | null => (Number.isFinite(v) ? v : null);
  return {
    features: table.spec.map((s) => s.name),
    columns: table.columns.map((c) => Array.from(c.subarray(start, table.nRows), nan)),
    target: Array.from(table.target.subarray(start, table.nRows)),
    fromMs: table.createdAtMs[start] ?? 0,
    toMs: table.createdAtMs[table.nRows - 1] ?? 0,
  };
}

/** Mean of predicted − actual over the hold-out rows (positive: quotes late). */
function meanDiff(predicted: Float64Array, target: Float64Array, from: number): number {
  let sum = 0;
  for (let i = 0; i < predicted.length; i++) sum += predicted[i]! - target[from + i]!;
  return sum / Math.max(1, predicted.length);
}

const MAX_DOMAIN_STORES = 5000;

function domainOf(features: string[], stores: OrderHistory['stores']): ModelDomain {
  let bbox: ModelDomain['bbox'] = null;
  for (const s of stores) {
    const { lat, lng } = s.location;
    if (!Number.isFinite(lat) || !Number.isFinite(lng)) continue;
    bbox = bbox
      ? {
          minLat: Math.min(bbox.minLat, lat),
          maxLat: Math.max(bbox.maxLat, lat),
          minLng: Math.min(bbox.minLng, lng),
          maxLng: Math.max(bbox.maxLng, lng),
        }
      : { minLat: lat, maxLat: lat, minLng: lng, maxLng: lng };
  }
  return {
    features,
    timezones: [...new Set(stores.map((s) => s.timezone).filter(Boolean))].sort(),
    stores: stores.length,
    storeIds: stores
      .map((s) => s.storeId)
      .sort()
      .slice(0, MAX_DOMAIN_STORES),
    bbox,
  };
}

/**
 * The order-leg models on the same history and checkout rows (docs/orders.md). A history without rider pings, or
 * too small to train on, registers the version without legs: live ETAs then follow the quote.
 */
async function trainLegs(
  data: TrainingData,
  checkoutTable: TrainingTable,
  options: TrainingRunOptions,
  log: (line: string) => void,
): Promise<OrderLegsArtifact | undefined> {
  if (!data.history.riderPings) {
    log('order legs: no rider pings in this history; the version serves live ETAs from its quote');
    return undefined;
  }
  try {
    const legs = await trainOrderLegs(data.history, {
      checkoutTable,
      split: { train: options.pipeline.trainShare, calibration: options.pipeline.validShare },
      ...(options.geo ? { geo: options.geo } : {}),
      onProgress: (message) => log(`order legs: ${message}`),
    });
    return legs.artifact;
  } catch (e) {
    log(`order legs not trained (${(e as Error).message}): the version serves live ETAs from its quote`);
    return undefined;
  }
}
