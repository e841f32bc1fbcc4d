import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { maeBy, type Holdout, type HoldoutScores } from '../training/holdout.js';
import type { PolicyDecision } from '../promotion/policy.js';
import { renderHtml } from './html.js';

/** Everything a run report says, as JSON; the HTML page is drawn from this alone. */
export interface RunReport {
  runId: string;
  startedAt: string;
  finishedAt: string;
  source: string;
  window: { fromMs: number; toMs: number; rows: number; train: number; valid: number; test: number };
  candidate: { version: string | null; metrics: Record<string, number> };
  champion: { version: string; metrics: Record<string, number> } | null;
  errorHistogram: { edgesMin: number[]; candidate: number[]; champion: number[] | null };
  predictedVsActual: { predictedMin: number[]; actualMin: number[] };
  coverage: { below_p10: number; within: number; above_p90: number; nominal: number };
  maeByHour: Array<{ key: number; n: number; candidate_s: number; champion_s: number | null }>;
  maeByZone: Array<{ key: string; n: number; candidate_s: number; champion_s: number | null }>;
  maeByStoreDecile: Array<{ key: number; n: number; candidate_s: number; champion_s: number | null }>;
  featureImportance: Array<{ feature: string; gain: number }>;
  decision: PolicyDecision;
  promoted: boolean;
}

const HIST_EDGES = Array.from({ length: 21 }, (_, i) => -30 + i * 3);
const SCATTER_POINTS = 600;

function histogram(errorsMin: ArrayLike<number>): number[] {
  const counts = new Array<number>(HIST_EDGES.length + 1).fill(0);
  for (let i = 0; i < errorsMin.length; i++) {
    const e = errorsMin[i]!;
    let b = HIST_EDGES.findIndex((edge) => e < edge);
    if (b < 0) b = HIST_EDGES.length;
    counts[b]!++;
  }
  return counts.map((c) => c / Math.max(1, errorsMin.length));
}

function joinGroups<K extends string | number>(
  keys: ArrayLike<K>,
  holdout: Holdout,
  candidate: HoldoutScores,
  champion: HoldoutScores | undefined,
): Array<{ key: K; n: number; candidate_s: number; champion_s: number | null }> {
  const a = maeBy(keys, candidate.p50, holdout.actual);
  const b = champion
    ? new Map(maeBy(keys, champion.p50, holdout.actual).map((g) => [g.key, g.mae_s]))
    : undefined;
  return a.map((g) => ({ key: g.key, n: g.n, candidate_s: g.mae_s, champion_s: b?.get(g.key) ?? null }));
}

/** The report's numbers from the hold-out answers of the new model and of the champion on the same rows. */
export function buildReport(input: {
  runId: string;
  startedAt: string;
  source: string;
  window: RunReport['window'];
  candidateVersion: string | null;
  holdout: Holdout;
  candidate: HoldoutScores;
  champion: HoldoutScores | undefined;
  importance: Array<{ feature: string; value: number }>;
  decision: PolicyDecision;
  promoted: boolean;
}): RunReport {
  const { holdout, candidate, champion } = input;
  const n = holdout.actual.length;
  const errors = (s: HoldoutScores): Float64Array =>
    Float64Array.from({ length: n }, (_, i) => (s.p50[i]! - holdout.actual[i]!) / 60);
  let below = 0;
  let above = 0;
  for (let i = 0; i < n; i++) {
    if (holdout.actual[i]! < candidate.p10[i]!) below++;
    else if (holdout.actual[i]! > candidate.p90[i]!) above++;
  }
  const step = Math.max(1, Math.floor(n / SCATTER_POINTS));
  const predictedMin: number[] = [];
  const actualMin: number[] = [];
  for (let i = 0; i < n; i += step) {
    predictedMin.push(+(candidate.p50[i]! / 60).toFixed(2));
    actualMin.push(+(holdout.actual[i]! / 60).toFixed(2));
  }
  const total = input.importance.reduce((s, f) => s + f.value, 0) || 1;
  return {
    runId: input.runId,
    startedAt: input.startedAt,
    finishedAt: new Date().toISOString(),
    source: input.source,
    window: input.window,
    candidate: { version: input.candidateVersion, metrics: candidate.metrics },
    champion: champion ? { version: champion.version, metrics: champion.metrics } : null,
    errorHistogram: {
      edgesMin: HIST_EDGES,
      candidate: histogram(errors(candidate)),
      champion: champion ? histogram(errors(champion)) : null,
    },
    predictedVsActual: { predictedMin, actualMin },
    coverage: { below_p10: below / n, within: (n - below - above) / n, above_p90: above / n, nominal: 0.8 },
    maeByHour: joinGroups(holdout.hour, holdout, candidate, champion),
    maeByZone: joinGroups(holdout.zone, holdout, candidate, champion),
    maeByStoreDecile: joinGroups(holdout.storeDecile, holdout, candidate, champion),
    featureImportance: [...input.importance]
      .sort((a, b) => b.value - a.value)
      .map((f) => ({ feature: f.feature, gain: f.value / total })),
    decision: input.decision,
    promoted: input.promoted,
  };
}

/** `<reportsDir>/<run-id>/report.json` and `report.html`, each written whole (temporary name, then rename). */
export async function writeReport(
  reportsDir: string,
  report: RunReport,
): Promise<{ json: string; html: string }> {
  const dir = path.join(reportsDir, report.runId);
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, 'report.json');
  const html = path.join(dir, 'report.html');
  await writeFile(`${json}.tmp`, JSON.stringify(report, null, 2));
  await rename(`${json}.tmp`, json);
  await writeFile(`${html}.tmp`, renderHtml(report));
  await rename(`${html}.tmp`, html);
  return { json, html };
}
