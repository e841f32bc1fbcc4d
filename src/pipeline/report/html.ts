import type { RunReport } from './report.js';
import { barChart, esc, scatter } from './svg.js';

const CANDIDATE = '#3b6ea5';
const CHAMPION = '#e08e0b';
const ZONES_SHOWN = 30;
const min = (s: number | null | undefined): string =>
  s === null || s === undefined ? '–' : `${(s / 60).toFixed(2)} min`;
const pct = (v: number | undefined): string => (v === undefined ? '–' : `${(v * 100).toFixed(1)}%`);

const METRIC_ROWS: Array<[string, string, (v: number | undefined) => string]> = [
  ['mae_s', 'MAE', (v) => min(v)],
  ['rmse_s', 'RMSE', (v) => min(v)],
  ['within_5min', 'within ±5 min', pct],
  ['within_10min', 'within ±10 min', pct],
  ['coverage_p10_p90', 'p10–p90 coverage', pct],
  ['width_p10_p90_s', 'p10–p90 width', (v) => min(v)],
  ['baseline_mae_s', 'naive quote MAE', (v) => min(v)],
];

function groupChart<K extends string | number>(
  title: string,
  rows: Array<{ key: K; n: number; candidate_s: number; champion_s: number | null }>,
  label: (k: K) => string,
): string {
  const series = [{ name: 'new model', values: rows.map((r) => r.candidate_s / 60), color: CANDIDATE }];
  if (rows.some((r) => r.champion_s !== null))
    series.push({
      name: 'champion',
      values: rows.map((r) => (r.champion_s ?? Number.NaN) / 60),
      color: CHAMPION,
    });
  return `<section><h2>${esc(title)}</h2>${barChart(
    rows.map((r) => label(r.key)),
    series,
    'MAE (min)',
  )}</section>`;
}

/** One self-contained page: inline CSS and SVG, no script, nothing fetched. */
export function renderHtml(r: RunReport): string {
  const metrics = METRIC_ROWS.map(
    ([key, name, f]) =>
      `<tr><th>${name}</th><td>${f(r.candidate.metrics[key])}</td><td>${r.champion ? f(r.champion.metrics[key]) : '–'}</td></tr>`,
  ).join('');
  const checks = r.decision.checks
    .map(
      (c) =>
        `<li class="${c.passed ? 'ok' : 'bad'}">${c.passed ? '✔' : '✘'} ${esc(c.rule)}: ${esc(c.detail)}</li>`,
    )
    .join('');
  const edges = r.errorHistogram.edgesMin;
  const histLabels = [
    `< ${edges[0]}`,
    ...edges.slice(1).map((e) => `${e - 3}…${e}`),
    `≥ ${edges[edges.length - 1]}`,
  ];
  const histSeries = [
    { name: 'new model', values: r.errorHistogram.candidate.map((v) => v * 100), color: CANDIDATE },
  ];
  if (r.errorHistogram.champion)
    histSeries.push({
      name: 'champion',
      values: r.errorHistogram.champion.map((v) => v * 100),
      color: CHAMPION,
    });
  const coverage = [
    {
      name: 'share',
      values: [r.coverage.below_p10 * 100, r.coverage.within * 100, r.coverage.above_p90 * 100],
      color: CANDIDATE,
    },
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>etaserve run ${esc(r.runId)}</title>
<style>body{font:14px system-ui,sans-serif;max-width:1180px;margin:24px auto;padding:0 16px;color:#222}
section{display:inline-block;vertical-align:top;margin:0 16px 16px 0}table{border-collapse:collapse}
td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}th{text-align:left}.ok{color:#1e7b34}.bad{color:#b02a2a}
h1{font-size:20px}h2{font-size:15px;margin:8px 0}</style></head><body>
<h1>Training run ${esc(r.runId)}</h1>
<p>Source: ${esc(r.source)}. Orders ${new Date(r.window.fromMs).toISOString()} – ${new Date(r.window.toMs).toISOString()}:
${r.window.train} train, ${r.window.valid} validation, ${r.window.test} hold-out. Started ${esc(r.startedAt)}, finished ${esc(r.finishedAt)}.</p>
<section id="decision"><h2>Decision: ${r.promoted ? 'promoted' : 'not promoted'}</h2><p>${esc(r.decision.summary)}</p><ul>${checks}</ul></section>
<section id="metrics"><h2>Hold-out metrics (same rows)</h2><table><tr><th></th><th>new ${esc(r.candidate.version ?? '(unregistered)')}</th><th>champion ${esc(r.champion?.version ?? '–')}</th></tr>${metrics}</table></section>
<section id="errors"><h2>Error distribution (predicted p50 − actual, min)</h2>${barChart(histLabels, histSeries, '% of orders')}</section>
<section id="predicted-vs-actual"><h2>Predicted vs actual</h2>${scatter(r.predictedVsActual.actualMin, r.predictedVsActual.predictedMin, 'actual (min)', 'predicted p50 (min)')}</section>
<section id="coverage"><h2>Coverage of the p10–p90 range (nominal ${pct(r.coverage.nominal)})</h2>${barChart(['below p10', 'within', 'above p90'], coverage, '% of orders')}</section>
${groupChart('MAE by local hour', r.maeByHour, (k) => String(k))}
${groupChart(
  `MAE by zone (H3 res 7 cell of the store${r.maeByZone.length > ZONES_SHOWN ? `; the ${ZONES_SHOWN} busiest of ${r.maeByZone.length}` : ''})`,
  [...r.maeByZone].sort((a, b) => b.n - a.n).slice(0, ZONES_SHOWN),
  (k) => String(k),
)}
${groupChart('MAE by store decile (1 = busiest)', r.maeByStoreDecile, (k) => String(k))}
<section id="importance"><h2>Feature importance (share of gain)</h2>${barChart(
    r.featureImportance.map((f) => f.feature),
    [{ name: 'gain', values: r.featureImportance.map((f) => f.gain * 100), color: CANDIDATE }],
    '% of gain',
  )}</section>
</body></html>
`;
}
