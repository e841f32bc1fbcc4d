/**
 * npm run bench:train [-- --days N] [--orders-per-day M] [--sources simulated,log] [--quick] [--name NAME]
 *     [--results-dir DIR] [--no-write]
 *
 * Training time and peak memory for a window of about a million orders (365 days of 2,800 orders a day), issue 4:
 * at most 1 GB resident, and no JavaScript object per row of training data. Two sources, each a real
 * `etaserve train` in its own process with a fresh data directory:
 *  - simulated: `etaserve train --days N --orders-per-day M` (the city simulated in the training process);
 *  - log: the same history ingested into the event log first (bench/train/prepare-log.ts, its own process), then
 *    `etaserve train --from T --to T`: compaction of the log into the Parquet lake, the SQL ETL, training.
 * Peak memory is the kernel's high-water mark of resident memory (what `/usr/bin/time -v` reports). Writes
 * bench/results/train-<date>.json + .md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo, REPO_ROOT, writeResults } from '../lib/results.js';
import { measureRun, type MeasuredRun } from './measure.js';

const TARGET_MB = 1024;

interface Case {
  source: string;
  orders: number;
  run: MeasuredRun;
  /** Seconds at which each stage's log line appeared, and the most memory seen while it ran. */
  stages: Array<{ stage: string; atSec: number; maxRssMb: number }>;
  prepare?: MeasuredRun;
}

const STAGES: Array<[string, RegExp]> = [
  ['simulate', /simulated \d+ orders/],
  ['compact', /compacted \d+ events/],
  ['read lake', /read \d+ orders from parquet/],
  ['speeds', /speeds: zone speeds/],
  ['features', /features: \d+ rows/],
  ['train + evaluate', /evaluate: MAE/],
  ['register + report', /registered v\d+.*; /],
];

function stagesOf(run: MeasuredRun): Case['stages'] {
  const out: Case['stages'] = [];
  let max = 0;
  for (const s of run.stages) {
    max = Math.max(max, s.maxRssMb);
    const hit = STAGES.find(([, re]) => re.test(s.line));
    if (!hit) continue;
    out.push({ stage: hit[0], atSec: s.atSec, maxRssMb: max });
    max = 0;
  }
  return out;
}

const ordersIn = (run: MeasuredRun): number =>
  Number(/(?:simulated|read) (\d+) orders/.exec(run.output)?.[1] ?? /(\d+) rows:/.exec(run.output)?.[1] ?? 0);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      days: { type: 'string' },
      'orders-per-day': { type: 'string' },
      sources: { type: 'string' },
      quick: { type: 'boolean' },
      name: { type: 'string' },
      'results-dir': { type: 'string' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'npm run bench:train [-- --days N] [--orders-per-day M] [--sources simulated,log] [--quick] [--name NAME] [--no-write]',
    );
    return 0;
  }
  const quick = values.quick ?? false;
  const days = Number(values.days ?? (quick ? 14 : 365));
  const perDay = Number(values['orders-per-day'] ?? (quick ? 300 : 2800));
  const sources = (values.sources ?? 'simulated,log').split(',');
  const cli = path.join(REPO_ROOT, 'bin/etaserve.js');
  const cases: Case[] = [];
  const work = mkdtempSync(path.join(os.tmpdir(), 'etaserve-bench-train-'));
  const loadBefore = os.loadavg();
  try {
    for (const source of sources) {
      const data = path.join(work, source);
      const env = { ETASERVE_DATA_DIR: data, ETASERVE_LOG_LEVEL: 'warn' };
      let prepare: MeasuredRun | undefined;
      let args: string[];
      if (source === 'simulated') {
        args = ['train', '--days', String(days), '--orders-per-day', String(perDay)];
      } else if (source === 'log') {
        console.log(`\n== log: ingesting ${days} days of ${perDay} orders a day into the event log`);
        prepare = await measureRun(
          process.execPath,
          [
            '--import',
            'tsx',
            'bench/train/prepare-log.ts',
            '--data',
            data,
            '--days',
            String(days),
            '--orders-per-day',
            String(perDay),
          ],
          { cwd: REPO_ROOT, env },
        );
        if (prepare.exitCode !== 0) throw new Error(`prepare-log failed:\n${prepare.output}`);
        const window = JSON.parse(prepare.output.trim().split('\n').pop()!) as {
          fromMs: number;
          toMs: number;
        };
        const stores = await measureRun(
          process.execPath,
          [cli, 'stores', 'import', path.join(data, 'stores.jsonl')],
          { env },
        );
        if (stores.exitCode !== 0) throw new Error(`stores import failed:\n${stores.output}`);
        const iso = (ms: number): string => new Date(ms).toISOString();
        args = ['train', '--from', iso(window.fromMs), '--to', iso(window.toMs)];
      } else throw new Error(`unknown source ${source}: simulated or log`);
      console.log(`\n== ${source}: etaserve ${args.join(' ')}`);
      const run = await measureRun(process.execPath, [cli, ...args], { env, echo: true });
      if (run.exitCode !== 0) throw new Error(`training failed:\n${run.output}`);
      const c: Case = {
        source,
        orders: ordersIn(run),
        run,
        stages: stagesOf(run),
        ...(prepare ? { prepare } : {}),
      };
      console.log(`   ${c.orders} orders: ${run.wallSec} s, peak RSS ${run.peakRssMb} MB`);
      cases.push(c);
      rmSync(data, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const data = {
    benchmark: 'train',
    date: new Date().toISOString(),
    machine: machineInfo(),
    loadavgBefore: loadBefore.map((l) => Math.round(l * 100) / 100),
    loadavgAfter: os.loadavg().map((l) => Math.round(l * 100) / 100),
    targetPeakRssMb: TARGET_MB,
    days,
    ordersPerDay: perDay,
    quick,
    cases: cases.map((c) => ({
      source: c.source,
      orders: c.orders,
      wallSec: c.run.wallSec,
      peakRssMb: c.run.peakRssMb,
      pass: c.run.peakRssMb <= TARGET_MB,
      stages: c.stages,
      ...(c.prepare
        ? {
            prepare: {
              wallSec: c.prepare.wallSec,
              peakRssMb: c.prepare.peakRssMb,
              wrote: c.prepare.output.trim().split('\n').pop(),
            },
          }
        : {}),
    })),
  };
  const md = markdown(data);
  console.log(`\n${md}`);
  if (!values['no-write']) {
    const written = writeResults(
      values.name ?? (quick ? 'train-quick' : 'train'),
      data,
      md,
      values['results-dir'] ? { dir: values['results-dir'] } : {},
    );
    console.log(`wrote ${written.json} and ${written.md}`);
  }
  return 0;
}

function markdown(d: {
  days: number;
  ordersPerDay: number;
  loadavgBefore: number[];
  loadavgAfter: number[];
  cases: Array<{
    source: string;
    orders: number;
    wallSec: number;
    peakRssMb: number;
    pass: boolean;
    stages: Case['stages'];
  }>;
}): string {
  const rows = d.cases.map(
    (c) => `| ${c.source} | ${c.orders} | ${c.wallSec} | ${c.peakRssMb} | ${c.pass ? 'yes' : '**no**'} |`,
  );
  const stages = d.cases.flatMap((c) =>
    c.stages.map(
      (s, i) =>
        `| ${c.source} | ${s.stage} | ${(s.atSec - (c.stages[i - 1]?.atSec ?? 0)).toFixed(1)} | ${s.maxRssMb} |`,
    ),
  );
  return [
    `# Training: time and peak memory for ${d.days} days of ${d.ordersPerDay} orders a day`,
    '',
    "Each row is one `etaserve train` in its own process with a fresh data directory. Peak RSS is the kernel's",
    'high-water mark (`VmHWM`, what `/usr/bin/time -v` prints). Target (issue 4): at most 1024 MB, with no object per',
    'row of training data. `log` ingests the history into the event log first (not timed here), then trains on the',
    'window: compaction into the Parquet lake, the SQL ETL, boosting.',
    '',
    '| source | orders | wall s | peak RSS MB | ≤ 1 GB |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    'By stage (seconds the stage took, most resident memory seen while it ran):',
    '',
    '| source | stage | s | max RSS MB |',
    '|---|---|---|---|',
    ...stages,
    '',
    `Load average (1, 5, 15 min) before: ${d.loadavgBefore.join(', ')}; after: ${d.loadavgAfter.join(', ')} on ${os.cpus().length} cores:`,
    'wall times on a shared machine are longer than on a quiet one; memory is not affected.',
  ].join('\n');
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
