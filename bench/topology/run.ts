/**
 * npm run bench:topology [-- --quick] [--rates R,R] [--step-sec S] [--days N] [--orders-per-day M] [--name NAME]
 *     [--no-write] [--render FILE.json]
 *
 * The distributed shape's figures, measured in the container topology of test/topology (two gateways, two
 * predictors behind one name, store, geo and the pipeline with its lake volume, as podman containers of
 * etaserve:dev; the events Redis (AOF, fsync always, noeviction), the cache Redis and PostgreSQL as processes):
 *  1. ingest through both gateways into Redis Streams: open-loop POST /v1/events (100 events a request, requests
 *     alternating the gateways) at a ladder of fixed rates, acknowledgement latency from the intended send time;
 *  2. how far the lake lags behind the log, sampled every 500 ms during and after ingest, and the time from the end
 *     of ingest until the lake holds every event;
 *  3. `etaserve train --lake` in the pipeline's container over a year of the bench:train city (about a million
 *     orders) written to its lake volume from the host: wall time and the training process's peak RSS;
 *  4. promotion to serving: from the registry's alias move until every predictor answers with the new version.
 * Needs root and podman (the image build and the containers). Writes bench/results/topology-<date>.json + .md.
 */
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { waitForQuiet } from '../lib/cpu.js';
import { runMeasured, type MeasuredResult } from '../lib/measure.js';
import {
  machineInfo,
  REPO_ROOT,
  RESULTS_DIR,
  scrubPaths,
  updateIndex,
  writeResults,
} from '../lib/results.js';
import { containerToolchainMissing, ensureImage, removeContainers } from '../../test/support/containers.js';
import { Topology, type Service } from '../../test/support/topology.js';
import { lakeEventCount, LagSampler, logPosition, metricValue, type LagSample } from './lake-lag.js';
import { ChampionReader, watchServing, type Serving } from './promotions.js';
import { markdown, type TopologyReport } from './report.js';
import { Redis } from 'ioredis';

const exec = promisify(execFile);
const GROUP = 'etaserve-topology-bench';
const DAY = 86_400_000;
const EVENTS_PER_REQUEST = 100;
/** The SLO of bench:ingest, so the figures read side by side: p99 ack < 50 ms, no errors. */
const SLO_P99_MS = 50;
const APP_UID = 10001;

const HELP = `npm run bench:topology [-- --quick] [--rates R,R] [--step-sec S] [--days N] [--orders-per-day M]
    [--name NAME] [--no-write] [--render FILE.json]

  --rates R,R          POST /v1/events requests/s of each ingest step (100 events each; default 20,40,80,120;
                       --quick 20,60)
  --step-sec S         measured seconds per step (default 20; --quick 8), after 2 s of warm-up
  --days N             days of the simulated city in the lake for training (default 365; --quick 14)
  --orders-per-day M   (default 2800)
  --name NAME          results name (default topology, or topology-quick)
  --no-write           print the summary only
  --render FILE.json   write FILE.md again from a run's JSON (no measuring)

Needs root, podman with runc and debootstrap (the image is built when its sources changed), redis-server and
PostgreSQL. About 20 minutes on 2 cores; --quick about 6.`;

const round = (v: number, d = 1): number => Math.round(v * 10 ** d) / 10 ** d;
const iso = (ms: number): string => new Date(ms).toISOString();

/** The host pid of a container's first process (its processes are the host's, under root podman). */
async function containerPid(name: string): Promise<number | undefined> {
  const { stdout } = await exec('podman', ['inspect', '--format', '{{.State.Pid}}', name]).catch(() => ({
    stdout: '',
  }));
  const pid = Number(stdout.trim());
  return pid > 0 ? pid : undefined;
}

/** The pid of the redis-server listening on `port` (its command line says so). */
function redisPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes('redis-server') && cmd.includes(`:${port}`)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** Parquet files and their bytes under `dir` (the ingest's few files included). */
function parquetSize(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.parquet')) continue;
    files++;
    bytes += statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return { files, bytes };
}

/** Runs a bench script in its own process; its stderr goes to ours, the last stdout line is its JSON. */
function runScript(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${args[0]} exited ${code}:\n${out}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>);
    });
  });
}

/** The JSON object `etaserve ... --json` printed last (pretty-printed: it starts at a line holding only "{"). */
function lastJson<T>(stdout: string): T {
  const start = stdout.startsWith('{\n') ? 0 : stdout.lastIndexOf('\n{\n') + 1;
  return JSON.parse(stdout.slice(start)) as T;
}

/** `[12.3 s] line` log lines of `etaserve train` as (seconds, line). */
function trainLog(stdout: string): Array<{ atSec: number; line: string }> {
  return [...stdout.matchAll(/^\[(\d+(?:\.\d+)?) s\] (.*)$/gm)].map((m) => ({
    atSec: Number(m[1]),
    line: m[2]!,
  }));
}

const STAGES: Array<[string, RegExp]> = [
  ['read lake', /read \d+ orders from/],
  ['speeds', /speeds: zone speeds/],
  ['features', /features: \d+ rows/],
  ['train + evaluate', /evaluate: MAE/],
  ['register + report', /registered v\d+/],
];

function stagesOf(lines: Array<{ atSec: number; line: string }>): Array<{ stage: string; sec: number }> {
  const out: Array<{ stage: string; sec: number }> = [];
  let prev = 0;
  for (const l of lines) {
    const hit = STAGES.find(([, re]) => re.test(l.line));
    if (!hit) continue;
    out.push({ stage: hit[0], sec: round(l.atSec - prev) });
    prev = l.atSec;
  }
  return out;
}

interface TrainJson {
  version: string;
  promoted: boolean;
  rows: number;
  metrics: { mae_s?: number; coverage_p10_p90?: number };
  peak_rss_mb?: number;
}

/** The newest full bench:train result (the same training outside containers), for the side-by-side. */
function referenceTraining(): TopologyReport['training']['reference'] {
  const files = readdirSync(RESULTS_DIR)
    .filter((f) => /^train-\d{4}-\d{2}-\d{2}\.json$/.test(f))
    .sort();
  const file = files.at(-1);
  if (!file) return undefined;
  const data = JSON.parse(readFileSync(path.join(RESULTS_DIR, file), 'utf8')) as {
    cases: Array<{
      source: string;
      orders: number;
      wallSec: number;
      peakRssMb: number;
      stages: Array<{ stage: string; atSec: number }>;
    }>;
  };
  const cases = data.cases.map((c) => {
    const at = (stage: string): number | undefined => c.stages.find((s) => s.stage === stage)?.atSec;
    const compacted = at('compact');
    return {
      source: c.source,
      orders: c.orders,
      wallSec: c.wallSec,
      peakRssMb: c.peakRssMb,
      // The log case compacts the log into the lake first; the container run starts from a written lake.
      ...(compacted !== undefined ? { afterCompactionSec: round(c.wallSec - compacted) } : {}),
    };
  });
  return { file, cases };
}

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      rates: { type: 'string' },
      'step-sec': { type: 'string' },
      days: { type: 'string' },
      'orders-per-day': { type: 'string' },
      name: { type: 'string' },
      'no-write': { type: 'boolean' },
      render: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.render) {
    // The Markdown summary again from a run's JSON, without measuring anything.
    const report = JSON.parse(readFileSync(values.render, 'utf8')) as TopologyReport;
    writeFileSync(values.render.replace(/\.json$/, '.md'), scrubPaths(markdown(report)) + '\n');
    updateIndex();
    return 0;
  }
  const missing = containerToolchainMissing();
  if (missing) {
    console.error(`bench:topology needs root and podman (the container topology): ${missing}`);
    return 2;
  }
  const quick = values.quick ?? false;
  const rates = (values.rates ?? (quick ? '20,60' : '20,40,80,120')).split(',').map(Number);
  const stepSec = Number(values['step-sec'] ?? (quick ? 8 : 20));
  const days = Number(values.days ?? (quick ? 14 : 365));
  const perDay = Number(values['orders-per-day'] ?? 2800);
  const loadBefore = os.loadavg();
  const started = Date.now();
  const elapsed = (): string => `[${((Date.now() - started) / 1000).toFixed(0)} s]`;
  const say = (line: string): void => console.log(`${elapsed()} ${line}`);

  removeContainers(GROUP);
  const image = await ensureImage(15 * 60_000);
  say(`image etaserve:dev ${image.rebuilt ? 'built' : 'up to date'} in ${image.seconds.toFixed(0)} s`);
  // The lake keeps the year the training reads: its retention would otherwise drop everything past 90 days.
  const topology = await Topology.infrastructure(GROUP, {
    ETASERVE_PIPELINE_LAKE_RETENTION_DAYS: String(days + 30),
  });
  if (!topology) {
    console.error('bench:topology needs redis-server and PostgreSQL on this machine');
    return 2;
  }
  const t = topology;
  const stop = async (): Promise<void> => {
    await t.stop().catch(() => undefined);
    removeContainers(GROUP);
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    await t.start(['127.0.0.2', '127.0.0.3']);
    say(`topology up: ${t.gateways.length} gateways, ${t.predictors.size} predictors, store, geo, pipeline`);
    const gateways = t.gateways.map((g) => g.url);
    const pids: Record<string, number> = {};
    const named: Array<[string, Service]> = [
      ['gateway-1', t.gateways[0]!],
      ['gateway-2', t.gateways[1]!],
      ['pipeline', t.pipeline],
      ['store', t.store],
      ['geo', t.geo],
    ];
    for (const [address, p] of t.predictors) named.push([`predictor-${address.split('.').pop()}`, p]);
    for (const [name, s] of named) {
      const pid = await containerPid(s.container.name);
      if (pid) pids[name] = pid;
    }
    const redisProcess = redisPid(t.eventsRedis.port);
    if (redisProcess) pids['events-redis'] = redisProcess;

    // ---- 1 + 2: ingest through both gateways, the lake's lag sampled meanwhile -----------------------------
    const sampler = new LagSampler(t.eventsRedis.url, `${t.pipeline.url}/metrics`);
    sampler.start();
    const steps: MeasuredResult[] = [];
    const stepWindows: Array<{ rate: number; fromSec: number; toSec: number }> = [];
    for (const rate of rates) {
      // A shared machine: wait a little for other people's work to calm down, outside the step's lag window.
      const quiet = await waitForQuiet({ maxWaitMs: quick ? 5000 : 20_000, maxBusyCores: 0.7 });
      sampler.phase = `${rate * EVENTS_PER_REQUEST}/s`;
      const fromSec = sampler.now();
      const r = await runMeasured(
        {
          url: gateways[0]!,
          urls: gateways,
          path: '/v1/events',
          headers: { authorization: `Bearer ${t.adminKey}` },
          rate,
          durationSec: stepSec,
          warmupSec: 2,
          connections: 16,
          timeoutMs: 5000,
          source: {
            kind: 'module',
            module: path.join(REPO_ROOT, 'bench/ingest/source.ts'),
            options: { batch: EVENTS_PER_REQUEST, runId: `topo-${rate}-${Date.now()}`, lakeOnly: true },
          },
          itemsPerRequest: EVENTS_PER_REQUEST,
        },
        pids,
      );
      r.machine.busyBefore = quiet.busyCores;
      r.machine.waitedMs = quiet.waitedMs;
      stepWindows.push({ rate, fromSec: round(fromSec, 2), toSec: round(sampler.now(), 2) });
      steps.push(r);
      say(
        `ingest ${rate * EVENTS_PER_REQUEST} events/s target: ${r.itemsPerSec} accepted/s, ack p50 ${r.latency.p50} p99 ${r.latency.p99} max ${r.latency.max} ms, ` +
          `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts; others ${r.machine.othersCores} cores ` +
          `(busy before ${r.machine.busyBefore ?? '-'} after waiting ${r.machine.waitedMs ?? 0} ms)`,
      );
    }
    // The end of ingest: every request answered. Then until the lake has it all.
    sampler.phase = 'catch-up';
    const endSec = sampler.now();
    const redis = new Redis(t.eventsRedis.url);
    const final = await logPosition(redis);
    const catchUp: TopologyReport['lake']['catchUp'] = {
      eventsInLog: final.streamLength,
      lastId: final.lastId,
    };
    const deadline = Date.now() + (quick ? 120_000 : 300_000);
    let lastCount: number | undefined;
    while (Date.now() < deadline) {
      const at = (): number => round(sampler.now() - endSec, 2);
      const pos = await logPosition(redis);
      if (
        catchUp.positionSec === undefined &&
        pos.lakeId !== undefined &&
        !idBefore(pos.lakeId, final.lastId)
      )
        catchUp.positionSec = at();
      const text = await fetch(`${t.pipeline.url}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      if (catchUp.metricZeroSec === undefined && metricValue(text, 'etaserve_lake_behind_entries') === 0)
        catchUp.metricZeroSec = at();
      if (catchUp.lakeCountSec === undefined) {
        const n = await lakeEventCount(t.lakeDir);
        if (n !== undefined) lastCount = n;
        if (n !== undefined && n >= final.streamLength) catchUp.lakeCountSec = at();
      }
      const metricDone =
        catchUp.metricZeroSec !== undefined || metricValue(text, 'etaserve_lake_lag_seconds') === undefined;
      if (
        catchUp.lakeCountSec !== undefined &&
        (catchUp.positionSec !== undefined || !pos.lakeId) &&
        metricDone
      )
        break;
      await new Promise((r) => setTimeout(r, 500));
    }
    catchUp.lakeEvents = lastCount ?? 0;
    // A few seconds of the settled lake for the chart, then the sampler stops.
    await new Promise((r) => setTimeout(r, 2000));
    await sampler.stop();
    redis.disconnect();
    say(
      `lake: ${catchUp.lakeEvents} of ${final.streamLength} events; after the end of ingest, position caught up in ${catchUp.positionSec ?? '-'} s, ` +
        `lag gauge at 0 in ${catchUp.metricZeroSec ?? '-'} s, lake count complete in ${catchUp.lakeCountSec ?? '-'} s`,
    );

    // ---- 3: a year of the city in the lake, training in the pipeline's container ---------------------------
    say(`filling the lake with ${days} days of ${perDay} orders a day (the bench:train city)`);
    const storesFile = path.join(os.tmpdir(), `etaserve-topology-bench-stores-${process.pid}.jsonl`);
    const fillStarted = Date.now();
    // Two processes, one a core: flattening and writing Parquet cost far more than simulating the city twice.
    const parts = await Promise.all(
      [0, 1].map((part) =>
        runScript([
          'bench/topology/fill-lake.ts',
          ...['--lake', t.lakeDir, '--stores-out', storesFile, '--days', String(days)],
          ...[
            '--orders-per-day',
            String(perDay),
            '--part',
            String(part),
            '--parts',
            '2',
            '--now',
            String(fillStarted),
          ],
        ]),
      ),
    );
    const fill = {
      orders: Number(parts[0]!.orders),
      fromMs: Number(parts[0]!.fromMs),
      toMs: Number(parts[0]!.toMs),
      events: parts.reduce((a, p) => a + Number(p.events), 0),
      wallSec: round((Date.now() - fillStarted) / 1000),
      peakRssMb: Math.max(...parts.map((p) => Number(p.peakRssMb))),
      ...parquetSize(path.join(t.lakeDir, 'events')),
    };
    // The image's user writes the lake (merges, forgets): the host wrote these files as root.
    await exec('chown', ['-R', `${APP_UID}:${APP_UID}`, t.lakeDir]);
    say(
      `lake filled: ${fill.events} events of ${fill.orders} orders in ${fill.files} files in ${fill.wallSec} s`,
    );
    const stores = readFileSync(storesFile, 'utf8').trim().split('\n');
    rmSync(storesFile, { force: true });
    for (const line of stores) {
      const res = await post(`${gateways[0]}/v1/stores`, t.auth(), JSON.parse(line));
      if (res.status !== 201) throw new Error(`POST /v1/stores answered ${res.status}: ${await res.text()}`);
    }
    say(`${stores.length} stores imported through the gateway`);

    const champions = new ChampionReader(t.postgres.url);
    await champions.open();
    const promotions: TopologyReport['promotions'] = [];
    try {
      const window = { fromMs: fill.fromMs, toMs: fill.toMs };
      say(
        `etaserve train --lake --from ${iso(window.fromMs)} --to ${iso(window.toMs)} --json (pipeline container)`,
      );
      let trainingDone = false;
      const before = await champions.champion();
      // The training run promotes from inside the container: its alias move starts the predictors' watch.
      const firstWatch = champions
        .nextChampion(before?.version, () => trainingDone)
        .then(async (c) =>
          c
            ? { moved: c, serving: await watchServing(c.version, t.predictors, t.internal(), 120_000) }
            : undefined,
        );
      const t0 = Date.now();
      const trained = await t.pipeline.container.exec(
        ['train', '--lake', '--from', iso(window.fromMs), '--to', iso(window.toMs), '--json'],
        60 * 60_000,
      );
      const trainWallSec = round((Date.now() - t0) / 1000);
      if (trained.code !== 0)
        throw new Error(`train failed (${trained.code}):\n${trained.stderr}\n${trained.stdout}`);
      const result = lastJson<TrainJson>(trained.stdout);
      const log = trainLog(trained.stdout);
      const ordersRead = Number(/read (\d+) orders/.exec(trained.stdout)?.[1] ?? 0);
      say(
        `trained ${result.version} on ${ordersRead} orders in ${trainWallSec} s, peak RSS ${result.peak_rss_mb} MB`,
      );
      const first = await Promise.race([
        firstWatch,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000)),
      ]);
      trainingDone = true;
      if (first)
        promotions.push(
          promotionOf('training run, first model (the predictors had none)', first.moved, first.serving),
        );

      const training: TopologyReport['training'] = {
        days,
        ordersPerDay: perDay,
        lake: {
          events: fill.events,
          orders: fill.orders,
          files: fill.files,
          mb: round(fill.bytes / 1048576),
          fillSec: fill.wallSec,
          fillPeakRssMb: fill.peakRssMb,
        },
        orders: ordersRead,
        rows: result.rows,
        wallSec: trainWallSec,
        reportedSec: log.at(-1)?.atSec ?? 0,
        peakRssMb: result.peak_rss_mb ?? null,
        stages: stagesOf(log),
        version: result.version,
        promoted: result.promoted,
        maeMin: result.metrics.mae_s === undefined ? null : round(result.metrics.mae_s / 60, 2),
        reference: referenceTraining(),
      };

      // ---- 4: promotions through the admin API, alternating two versions --------------------------------
      const short = { fromMs: window.toMs - 14 * DAY, toMs: window.toMs };
      const second = await t.pipeline.container.exec(
        ['train', '--lake', '--from', iso(short.fromMs), '--to', iso(short.toMs), '--no-promote', '--json'],
        20 * 60_000,
      );
      if (second.code !== 0) throw new Error(`second train failed:\n${second.stderr}\n${second.stdout}`);
      const other = lastJson<TrainJson>(second.stdout).version;
      say(`second version ${other} (14 days, challenger); promoting alternately through the admin API`);
      const targets = quick ? [other, result.version, other] : [other, result.version, other, result.version];
      for (const version of targets) {
        const serving = watchServing(version, t.predictors, t.internal(), 60_000);
        const sentAt = Date.now();
        const res = await post(
          `${gateways[promotions.length % 2]}/v1/admin/models/${version}/promote`,
          t.auth(),
          {
            force: true,
            reason: 'bench:topology promotion to serving',
          },
        );
        const answeredAt = Date.now();
        if (res.status !== 200)
          throw new Error(`promote ${version} answered ${res.status}: ${await res.text()}`);
        await res.body?.cancel();
        const moved = await champions.champion();
        if (moved?.version !== version) throw new Error(`the champion is ${moved?.version}, not ${version}`);
        promotions.push(
          promotionOf('admin API (POST /v1/admin/models/:version/promote)', moved, await serving, {
            sentAt,
            answeredAt,
          }),
        );
        const p = promotions.at(-1)!;
        say(
          `promoted ${version}: every predictor served it ${p.fromAliasMoveMs ?? 'never'} ms after the alias moved`,
        );
        // Let the predictors settle (the previous model's release) before the next move.
        await new Promise((r) => setTimeout(r, 3000));
      }

      const report: TopologyReport = {
        benchmark: 'topology',
        date: new Date().toISOString(),
        quick,
        machine: machineInfo(),
        loadavgBefore: loadBefore.map((l) => round(l, 2)),
        loadavgAfter: os.loadavg().map((l) => round(l, 2)),
        wallMin: round((Date.now() - started) / 60_000),
        image: { rebuilt: image.rebuilt, seconds: round(image.seconds) },
        shape: {
          gateways: t.gateways.length,
          predictors: t.predictors.size,
          // The defaults (predictor.aliasPollMs, pipeline.lakeWriteIntervalMs): the topology sets neither.
          aliasPollMs: 1000,
          lakeWriteIntervalMs: 5000,
          eventsRedis: 'appendonly yes, appendfsync always, noeviction',
        },
        ingest: {
          eventsPerRequest: EVENTS_PER_REQUEST,
          stepSec,
          sloP99Ms: SLO_P99_MS,
          steps: steps.map((r, i) => ({
            targetEventsPerSec: rates[i]! * EVENTS_PER_REQUEST,
            acceptedEventsPerSec: r.itemsPerSec,
            requests: r.sent,
            ok: r.ok,
            non2xx: r.non2xx,
            errors: r.errors,
            timeouts: r.timeouts,
            latency: pick(r.latency),
            gateways: (r.targets ?? []).map((g) => ({ ok: g.ok, p50: g.latency.p50, p99: g.latency.p99 })),
            pass: r.ok === r.sent && r.latency.p99 < SLO_P99_MS && r.achievedRate >= 0.97 * rates[i]!,
            cpuPercent: Object.fromEntries(Object.entries(r.usage).map(([k, u]) => [k, u.cpuPercent])),
            othersCores: r.machine.othersCores,
            busyCores: r.machine.busyCores,
            sendLagP99: r.sendLag.p99,
          })),
        },
        lake: {
          measured: sampler.samples.some((s) => s.metricLagSec !== null || s.positionLagMs !== null),
          steps: stepWindows.map((w) => lagDuring(sampler.samples, w.fromSec, w.toSec, w.rate)),
          catchUp,
          samples: sampler.samples.map((s) => ({
            ...s,
            atSec: round(s.atSec - (stepWindows[0]?.fromSec ?? 0), 2),
          })),
        },
        training,
        promotions,
      };
      const md = markdown(report);
      console.log(`\n${md}`);
      if (!values['no-write']) {
        const written = writeResults(values.name ?? (quick ? 'topology-quick' : 'topology'), report, md);
        console.log(`wrote ${written.json} and ${written.md}`);
      }
    } finally {
      await champions.close();
    }
    return 0;
  } finally {
    await stop();
  }
}

const pick = (l: MeasuredResult['latency']): { p50: number; p90: number; p99: number; max: number } => ({
  p50: l.p50,
  p90: l.p90,
  p99: l.p99,
  max: l.max,
});

/** Whether Redis stream id `a` comes before `b`. */
function idBefore(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am < bm || (am === bm && as < bs);
}

function lagDuring(
  samples: LagSample[],
  fromSec: number,
  toSec: number,
  rate: number,
): TopologyReport['lake']['steps'][number] {
  const inside = samples.filter((s) => s.atSec >= fromSec && s.atSec <= toSec);
  const max = (xs: Array<number | null>): number | null => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? Math.max(...v) : null;
  };
  const median = (xs: Array<number | null>): number | null => {
    const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return v.length ? v[Math.floor(v.length / 2)]! : null;
  };
  return {
    targetEventsPerSec: rate * EVENTS_PER_REQUEST,
    samples: inside.length,
    metricLagSec: {
      median: median(inside.map((s) => s.metricLagSec)),
      max: max(inside.map((s) => s.metricLagSec)),
    },
    positionLagMs: {
      median: median(inside.map((s) => s.positionLagMs)),
      max: max(inside.map((s) => s.positionLagMs)),
    },
    behindMax: max(inside.map((s) => s.groupLag ?? s.metricBehind)),
  };
}

function promotionOf(
  via: string,
  moved: { version: string; movedAt: number },
  serving: Serving,
  api?: { sentAt: number; answeredAt: number },
): TopologyReport['promotions'][number] {
  return {
    version: serving.version,
    via,
    fromAliasMoveMs: serving.allAt === undefined ? null : serving.allAt - moved.movedAt,
    perPredictorMs: Object.fromEntries(
      Object.entries(serving.firstServedAt).map(([a, at]) => [a, at - moved.movedAt]),
    ),
    ...(api
      ? {
          requestMs: api.answeredAt - api.sentAt,
          fromAnswerMs: serving.allAt === undefined ? null : serving.allAt - api.answeredAt,
        }
      : {}),
  };
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
