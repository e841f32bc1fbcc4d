import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { saveZoneSpeeds, speedsFileOf, type GeoConfig, type ZoneSpeedTable } from '../geo/index.js';
import { loadModel, type TrainParams } from '../model/index.js';
import { promote, setChallenger, type ModelRecord, type ModelRegistry } from '../registry/index.js';
import type { PipelineConfig } from './config.js';
import { describeHoldout, scoreHoldout, type HoldoutScores } from './holdout.js';
import { decidePromotion, type PolicyDecision, type ShadowSummary } from './policy.js';
import { buildReport, writeReport, type RunReport } from './report/report.js';
import { formatMetrics, trainFromHistory } from './train-model.js';
import type { OrderHistory, TrainingTable } from './training-table.js';

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
  /** The caller uses `data` once: its rider pings may go once the training table is built (see trainFromHistory). */
  releasePings?: boolean;
}

export interface TrainingRunResult {
  runId: string;
  record: ModelRecord;
  decision: PolicyDecision;
  promoted: boolean;
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
  const trained = await trainFromHistory(data.history, {
    params: { nTrees: pipeline.trees, ...options.params },
    split: { train: pipeline.trainShare, valid: pipeline.validShare },
    geo: options.geo,
    buildTable: data.buildTable,
    window: data.window,
    releasePings: options.releasePings ?? false,
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
  if (championVersion) {
    const loaded = loadModel(stripGolden(await options.registry.loadArtifact(championVersion)));
    if (loaded.ok && loaded.value.spec.map((s) => s.name).join() === table.spec.map((s) => s.name).join())
      champion = scoreHoldout(loaded.value, championVersion, table, nValid, table.nRows);
    else log(`champion ${championVersion} cannot score this hold-out: compared as if there were none`);
  }
  const decision = decidePromotion(pipeline.policy, candidate.metrics, champion?.metrics, options.shadow);
  const checks = decision.checks.map((c) => `${c.passed ? 'pass' : 'FAIL'} ${c.rule} [${c.detail}]`);
  log(`policy decision: ${[decision.summary, ...checks].join('; ')}`);

  const metrics = { ...trained.metrics, ...(champion ? { champion_mae_s: champion.metrics.mae_s! } : {}) };
  let record = await options.registry.register(trained.artifact, {
    source: `${data.describe}:run=${runId}`,
    metrics,
    golden: trained.golden,
    profile: trained.profile,
  });
  const mode = options.promotion ?? (pipeline.policy.autoPromote ? 'policy' : 'challenger');
  let promoted = false;
  if (decision.promote && (mode === 'policy' || !championVersion)) {
    record = await promote(options.registry, record.version, `policy: ${decision.summary}`);
    promoted = true;
    await saveZoneSpeeds(speedsFileOf(options.dataDir, options.geo?.speedsFile ?? ''), trained.speeds);
  } else if (mode !== 'none') {
    await setChallenger(options.registry, record.version);
    record = (await options.registry.get(record.version))!;
  }
  log(
    `registered ${record.version}${record.aliases.length ? ` (${record.aliases.join(', ')})` : ''}: ${formatMetrics(trained.metrics)}`,
  );

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
  return { runId, record, decision, promoted, report, reportFiles };
}

function stripGolden(json: unknown): unknown {
  if (typeof json !== 'object' || json === null) return json;
  const { golden: _golden, ...artifact } = json as Record<string, unknown>;
  return artifact;
}
