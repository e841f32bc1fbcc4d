/**
 * npm run bench:peak [-- --quick] [--only ceiling,1,2,...] [--etaserve | --etaserve-url URL] [--model-name NAME]
 *   [--results-dir DIR]
 *
 * Starts what it measures, drives it with bench/loadgen, stops it, writes bench/results/peak-<date>.json + .md
 * (quick mode: peak-quick-<date>). Scenarios: ceiling (the generator's own), 1 model-serving, 2 eta-embedded,
 * 3 cluster, 4 eta-batch, 5 mixed (2-5: bench/peak/scenarios/platform-run.ts).
 *
 * npm run bench:peak -- --compare [...]: issue 16's baseline commit vs the working tree vs the seed stack, in one run
 * (bench/peak/compare/), writes bench/results/peak-compare-<date>.json + .md.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { measureCeiling } from '../loadgen/ceiling.js';
import path from 'node:path';
import {
  compactJson,
  machineInfo,
  REPO_ROOT,
  scrubPaths,
  today,
  updateIndex,
  writeResults,
} from '../lib/results.js';
import { peakConfig } from './config.js';
import { renderCompare, runCompareCli } from './compare/cli.js';
import { peakMarkdown } from './report.js';
import type { PeakReport } from './report.js';
import { runModelServing } from './scenarios/model-serving.js';
import type { EtaserveMode } from './scenarios/model-serving.js';
import { PLATFORM_SCENARIOS } from './scenarios/platform.js';
import { BENCH_TMP, profileMisses, runPlatform } from './scenarios/platform-run.js';
import { prepareTemplate } from './shapes.js';
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
      'results-dir': { type: 'string' },
      'profile-into': { type: 'string' },
      note: { type: 'string', multiple: true },
      compare: { type: 'boolean' },
      'compare-sides': { type: 'string' },
      'compare-rates': { type: 'string' },
      baseline: { type: 'string' },
      'soak-minutes': { type: 'string' },
      'no-cold': { type: 'boolean' },
      'one-side-up': { type: 'boolean' },
      'cold-rate': { type: 'string' },
      build: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'npm run bench:peak -- --compare [--quick] [--compare-sides baseline,change,seed] [--compare-rates 2000,3000] [--duration S] [--warmup S] [--baseline SHA] [--soak-minutes N] [--no-cold] [--cold-rate N] [--one-side-up] [--build] [--no-write] [--name NAME] [--results-dir DIR]',
    );
    console.log(
      'npm run bench:peak [-- --quick] [--only ceiling,1,2,3,4,5] [--etaserve | --etaserve-url URL] [--model-name N] [--model-file F] [--no-write] [--name NAME] [--duration S] [--warmup S] [--no-search] [--results-dir DIR] [--profile-into results.json] [--note TEXT] [--render results.json]',
    );
    return 0;
  }
  if (values['profile-into']) {
    // Add the --cpu-prof run to an earlier report (its verdicts say which shapes missed) and re-render it.
    const file = values['profile-into'];
    const report = JSON.parse(readFileSync(file, 'utf8')) as PeakReport;
    const cfg = peakConfig(false);
    if (!report.platform) throw new Error(`${file} has no platform scenarios`);
    const template = await prepareTemplate(BENCH_TMP, cfg.platform.city);
    const scratch = path.join(BENCH_TMP, 'runs', String(process.pid));
    report.platform.profiles = [];
    await profileMisses(
      cfg,
      template,
      scratch,
      path.join(BENCH_TMP, 'profiles'),
      report.platform,
      console.log,
    );
    rmSync(scratch, { recursive: true, force: true });
    writeFileSync(file, scrubPaths(compactJson(report)) + '\n');
    writeFileSync(file.replace(/\.json$/, '.md'), scrubPaths(peakMarkdown(report)) + '\n');
    return 0;
  }
  if (values.compare) return runCompareCli(values);
  if (values.render) {
    // Re-render the Markdown summary of an earlier run from its JSON, without running anything.
    const report = JSON.parse(readFileSync(values.render, 'utf8')) as PeakReport;
    if ((report as { kind?: string }).kind === 'peak-compare')
      return renderCompare(values.render, values.note);
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
    const peerDir = path.join(REPO_ROOT, '..', 'shared', 'peers', 'fastapi-xgboost');
    if (mode.kind === 'off' && !existsSync(peerDir)) {
      // A machine without ../shared (CI): the peer cannot run, and there is nothing to compare etaserve with.
      log(`  skipped: the peer (../shared/peers/fastapi-xgboost) is not on this machine`);
      report.notes = [
        ...(report.notes ?? []),
        'Scenario 1 skipped: ../shared/peers/fastapi-xgboost is not on this machine.',
      ];
    } else {
      const ms = await runModelServing(cfg, mode, log);
      const verdicts = scenario1Verdicts(ms, cfg.targets);
      report.modelServing = { ...ms, verdicts };
      for (const v of verdicts) log(`  [${v.status}] ${v.target}: ${v.detail}`);
      if (ms.sides.peer.status === 'failed' || ms.sides.etaserve.status === 'failed') failed = true;
    }
  }
  const platform = PLATFORM_SCENARIOS.filter((p) => only.has(p.id)).map((p) => p.number);
  if (platform.length) {
    log(`== scenarios ${platform.join(', ')}: the platform`);
    report.platform = await runPlatform(cfg, platform, log);
    for (const [k, vs] of Object.entries(report.platform.verdicts)) {
      for (const v of vs) log(`  [${v.status}] ${k}: ${v.target}: ${v.detail}`);
    }
    const sessions = [
      ...report.platform.sessions,
      ...(report.platform.mixed ? [report.platform.mixed.session] : []),
    ];
    if (sessions.some((s) => s.status === 'failed')) failed = true;
  }

  report.machine = machineInfo();
  if (!values['no-write']) {
    const data = { kind: 'peak', ...report };
    const written = writeResults(values.name ?? (quick ? 'peak-quick' : 'peak'), data, peakMarkdown(report), {
      ...(values['results-dir'] ? { dir: path.resolve(values['results-dir']) } : {}),
    });
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
