/**
 * The `--compare` mode of `npm run bench:peak` (flags parsed in bench/peak/run.ts): builds the configuration,
 * runs bench/peak/compare/run-compare.ts and writes bench/results/peak-compare-<date>.json + .md.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { compactJson, REPO_ROOT, scrubPaths, updateIndex, writeResults } from '../../lib/results.js';
import { COMPARE_SIDES, compareConfig } from '../config.js';
import type { CompareSide } from '../config.js';
import { compareMarkdown, compareVerdicts } from './report.js';
import { runCompare } from './run-compare.js';
import type { CompareReport } from './run-compare.js';

export interface CompareFlags {
  quick?: boolean;
  'compare-sides'?: string;
  'compare-rates'?: string;
  duration?: string;
  warmup?: string;
  baseline?: string;
  'soak-minutes'?: string;
  'no-cold'?: boolean;
  'cold-rate'?: string;
  'one-side-up'?: boolean;
  build?: boolean;
  'no-write'?: boolean;
  name?: string;
  'results-dir'?: string;
  note?: string[];
}

const positive = (flag: string, v: string): number => {
  const n = Number(v);
  if (!(n > 0)) throw new Error(`${flag} takes a positive number, not "${v}"`);
  return n;
};

export async function runCompareCli(values: CompareFlags): Promise<number> {
  const cfg = compareConfig(values.quick ?? false);
  if (values['compare-sides']) {
    const sides = values['compare-sides'].split(',').map((s) => s.trim()) as CompareSide[];
    for (const s of sides)
      if (!COMPARE_SIDES.includes(s))
        throw new Error(`unknown side "${s}"; known: ${COMPARE_SIDES.join(', ')}`);
    // Always in the order, whatever order they were given in.
    cfg.sides = COMPARE_SIDES.filter((s) => sides.includes(s));
  }
  if (values['compare-rates'])
    cfg.rates = values['compare-rates'].split(',').map((s) => positive('--compare-rates', s.trim()));
  if (values.duration) cfg.durationSec = positive('--duration', values.duration);
  if (values.warmup !== undefined) cfg.warmupSec = Number(values.warmup);
  if (values.baseline) cfg.baseline = values.baseline;
  if (values['soak-minutes']) cfg.soak.minutes = positive('--soak-minutes', values['soak-minutes']);
  if (values['no-cold']) cfg.cold.enabled = false;
  if (values['one-side-up']) cfg.oneSideUp = true;
  if (values['cold-rate']) cfg.cold.rate = positive('--cold-rate', values['cold-rate']);

  const log = (line: string): void => console.log(line);
  if (values.build && cfg.sides.includes('change')) {
    log('== npm run build (the change side runs the compiled CLI)');
    execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  }
  log(
    `== bench:peak --compare: sides ${cfg.sides.join(', ')}; rates ${cfg.rates.join(', ')} req/s; ` +
      `${cfg.warmupSec} s warm-up + ${cfg.durationSec} s per step; baseline ${cfg.baseline}` +
      (cfg.soak.minutes ? `; soak ${cfg.soak.minutes} min` : '') +
      (cfg.oneSideUp ? '; one side up at a time' : ''),
  );
  const report = await runCompare(cfg, log);
  if (values.note?.length) report.notes.push(...values.note);
  log('== targets (the change)');
  for (const v of report.verdicts) log(`  [${v.status}] ${v.target}: ${v.detail}`);
  log(`== done in ${report.wallSec} s`);
  if (!values['no-write']) {
    const written = writeResults(
      values.name ?? (cfg.quick ? 'peak-compare-quick' : 'peak-compare'),
      report,
      compareMarkdown(report),
      values['results-dir'] ? { dir: path.resolve(values['results-dir']) } : {},
    );
    log(`wrote ${written.json} and ${written.md}`);
  }
  const wanted = new Set(cfg.sides);
  return report.sides.some((s) => wanted.has(s.side) && s.status === 'failed') ? 1 : 0;
}

/** `--render <peak-compare json>`: the Markdown again from the JSON (notes added), nothing run. */
export function renderCompare(file: string, notes: string[] | undefined): number {
  const report = JSON.parse(readFileSync(file, 'utf8')) as CompareReport;
  report.verdicts = compareVerdicts(report);
  if (notes?.length) {
    report.notes = [...report.notes, ...notes];
    writeFileSync(file, scrubPaths(compactJson(report)) + '\n');
  }
  const md = file.replace(/\.json$/, '.md');
  writeFileSync(md, scrubPaths(compareMarkdown(report)) + '\n');
  if (path.resolve(path.dirname(file)) === path.join(REPO_ROOT, 'bench', 'results')) updateIndex();
  console.log(`wrote ${md}`);
  return 0;
}
