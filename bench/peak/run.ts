/**
 * npm run bench:peak [-- --quick] [--only ceiling,1,2,...] [--etaserve | --etaserve-url URL] [--model-name NAME]
 *
 * Starts what it measures, drives it with bench/loadgen, stops it, writes bench/results/peak-<date>.json + .md
 * (quick mode: peak-quick-<date>). Scenarios: ceiling (the generator's own), 1 model-serving, 2 eta-embedded,
 * 3 cluster, 4 eta-batch, 5 mixed (2-5 pending until the platform lands).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { measureCeiling } from '../loadgen/ceiling.js';
import { compactJson, machineInfo, scrubPaths, today, updateIndex, writeResults } from '../lib/results.js';
import { peakConfig } from './config.js';
import { peakMarkdown } from './report.js';
import type { PeakReport } from './report.js';
import { runModelServing } from './scenarios/model-serving.js';
import type { EtaserveMode } from './scenarios/model-serving.js';
import { PLATFORM_NOT_READY, PLATFORM_SCENARIOS } from './scenarios/platform.js';
import { scenario1Verdicts } from './targets.js';

const ALIASES: Record<string, string> = { '0': 'ceiling', '1': 'model-serving', s1: 'model-serving' };
for (const p of PLATFORM_SCENARIOS) ALIASES[String(p.number)] = p.id;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      etaserve: { type: 'boolean' },
      'etaserve-url': { type: 'string' },
      'model-name': { type: 'string' },
      'model-file': { type: 'string' },
      'no-write': { type: 'boolean' },
      render: { type: 'string' },
      name: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'no-search': { type: 'boolean' },
      note: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'npm run bench:peak [-- --quick] [--only ceiling,1,2,3,4,5] [--etaserve | --etaserve-url URL] [--model-name N] [--model-file F] [--no-write] [--name NAME] [--duration S] [--warmup S] [--no-search] [--note TEXT] [--render results.json]',
    );
    return 0;
  }
  if (values.render) {
    // Re-render the Markdown summary of an earlier run from its JSON, without running anything.
    const report = JSON.parse(readFileSync(values.render, 'utf8')) as PeakReport;
    if (values.note?.length) {
      report.notes = [...(report.notes ?? []), ...values.note];
      writeFileSync(values.render, scrubPaths(compactJson(report)) + '\n');
    }
    const md = values.render.replace(/\.json$/, '.md');
    writeFileSync(md, scrubPaths(peakMarkdown(report)) + '\n');
    updateIndex();
    console.log(`wrote ${md}`);
    return 0;
  }
  const quick = values.quick ?? false;
  const cfg = peakConfig(quick);
  if (values.duration) cfg.durationSec = Number(values.duration);
  if (values.warmup) cfg.warmupSec = Number(values.warmup);
  if (values['no-search']) cfg.search = false;
  const known = ['ceiling', 'model-serving', ...PLATFORM_SCENARIOS.map((p) => p.id)];
  const only = values.only
    ? new Set(values.only.split(',').map((s) => ALIASES[s.trim()] ?? s.trim()))
    : new Set(known);
  for (const o of only)
    if (!known.includes(o)) throw new Error(`unknown scenario "${o}"; known: ${known.join(', ')}`);

  const mode: EtaserveMode = values['etaserve-url']
    ? {
        kind: 'url',
        url: values['etaserve-url'],
        ...(values['model-name'] ? { modelName: values['model-name'] } : {}),
      }
    : values.etaserve
      ? {
          kind: 'start',
          ...(values['model-file'] ? { modelFile: values['model-file'] } : {}),
          ...(values['model-name'] ? { modelName: values['model-name'] } : {}),
        }
      : { kind: 'off' };

  const log = (line: string): void => console.log(line);
  const report: PeakReport = {
    date: today(),
    quick,
    machine: {},
    config: cfg,
    ceiling: undefined,
    modelServing: undefined,
    pending: [],
    ...(values.note?.length ? { notes: values.note } : {}),
  };
  let failed = false;

  if (only.has('ceiling')) {
    log(`== load generator ceiling (p99 <= ${cfg.ceiling.sloP99Ms} ms, trivial node:http server)`);
    report.ceiling = await measureCeiling({
      quick,
      sloP99Ms: cfg.ceiling.sloP99Ms,
      connections: cfg.connections,
      log,
    });
    log(`=> generator ceiling ${report.ceiling.maxRate}/s`);
  }
  if (only.has('model-serving')) {
    log('== scenario 1: raw model serving, same model');
    const ms = await runModelServing(cfg, mode, log);
    const verdicts = scenario1Verdicts(ms, cfg.targets);
    report.modelServing = { ...ms, verdicts };
    for (const v of verdicts) log(`  [${v.status}] ${v.target}: ${v.detail}`);
    if (ms.sides.peer.status === 'failed' || ms.sides.etaserve.status === 'failed') failed = true;
  }
  for (const p of PLATFORM_SCENARIOS) {
    if (!only.has(p.id)) continue;
    log(`== scenario ${p.number}: ${p.title}: ${PLATFORM_NOT_READY}`);
    report.pending.push(p);
  }

  report.machine = machineInfo();
  if (!values['no-write']) {
    const data = {
      kind: 'peak',
      ...report,
      pending: report.pending.map((p) => ({
        id: p.id,
        number: p.number,
        title: p.title,
        status: PLATFORM_NOT_READY,
        starts: p.starts,
        drives: p.drives,
        reports: p.reports,
      })),
    };
    const written = writeResults(values.name ?? (quick ? 'peak-quick' : 'peak'), data, peakMarkdown(report));
    log(`wrote ${written.json} and ${written.md}`);
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
