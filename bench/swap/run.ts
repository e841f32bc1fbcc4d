/**
 * Hot swap under load: steady open-loop POST /v1/eta against `etaserve start` while a new model version is promoted
 * mid-run; p99 per second around the swap. Target: no p99 spike at swap time.
 *
 *   npm run bench:swap -- [--rate 300] [--duration 40] [--swap-at 20]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { buildCity } from '../../src/simulator/index.js';
import { freePort, startService } from '../lib/proc.js';
import { machineInfo, REPO_ROOT, writeResults } from '../lib/results.js';
import { runLoad, type TimelinePoint } from '../loadgen/index.js';

const exec = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'etaserve.js');
const KEY = 'es_benchswap_0123456789abcdefghijklmnopqrstuv';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '300' },
    duration: { type: 'string', default: '40' },
    'swap-at': { type: 'string', default: '20' },
    days: { type: 'string', default: '14' },
    shape: { type: 'string', default: 'all' },
    cold: { type: 'boolean', default: false },
  },
});
const rate = Number(values.rate);
const duration = Number(values.duration);
const swapAt = Number(values['swap-at']);
/** `all`: one process; `up`: the local cluster (gateway, store, geo, two predictor replicas). */
const shape = values.shape === 'up' ? 'up' : 'all';
/**
 * By default the new version is the challenger before the run (the intended flow: shadow first, then promote), so
 * predictors have it loaded and warm; `--cold` clears the challenger, so the promotion loads it from scratch.
 */
const cold = values.cold === true;
const name = `swap-${shape}${cold ? '-cold' : ''}`;

async function etaserve(dataDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [BIN, ...args], {
    env: { ...process.env, ETASERVE_DATA_DIR: dataDir, ETASERVE_LOG_LEVEL: 'warn' },
    maxBuffer: 16 << 20,
  });
  return stdout;
}

/** Orders for every store of the demo city, at a time they are all open, destinations around each store. */
function writeBodies(file: string): void {
  const { stores } = buildCity({ seed: 42, stores: 300 });
  const lines: string[] = [];
  let seed = 7;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < 5000; i++) {
    const s = stores[i % stores.length]!;
    lines.push(
      JSON.stringify({
        store_id: s.storeId,
        destination: {
          lat: s.location.lat + (rand() - 0.5) * 0.03,
          lng: s.location.lng + (rand() - 0.5) * 0.03,
        },
        items: 1 + Math.floor(rand() * 5),
        subtotal: 10 + Math.floor(rand() * 60),
        ordered_at: '2026-11-26T12:30:00+01:00',
      }),
    );
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

/** Sum and count of `etaserve_model_load_seconds` per thread (`loader`, `main`) in a /metrics page. */
function loadSeconds(metrics: string): Record<string, { sum: number; count: number }> {
  const out: Record<string, { sum: number; count: number }> = {};
  for (const m of metrics.matchAll(/^etaserve_model_load_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm)) {
    const thread = /thread="([^"]+)"/.exec(m[2]!)?.[1];
    if (!thread) continue;
    const entry = (out[thread] ??= { sum: 0, count: 0 });
    entry[m[1] as 'sum' | 'count'] += Number(m[3]);
  }
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-swap-'));
  try {
    console.log('training the champion and a second model (a different simulated seed) ...');
    await etaserve(dir, 'train', '--days', values.days!, '--trees', '200');
    await etaserve(dir, 'train', '--days', values.days!, '--trees', '200', '--seed', '7', '--no-promote');
    if (cold) await etaserve(dir, 'models', 'challenger', 'none');
    const bodies = path.join(dir, 'bodies.jsonl');
    writeBodies(bodies);
    const port = await freePort();
    // Predictor replicas take consecutive ports from the base in the cluster shape.
    const ports: Record<string, string> =
      shape === 'up'
        ? {
            ETASERVE_STORE_PORT: String(await freePort()),
            ETASERVE_GEO_PORT: String(await freePort()),
            ETASERVE_PREDICTOR_PORT: String(20_000 + Math.floor(Math.random() * 10_000)),
          }
        : {};
    const server = await startService({
      name: 'etaserve',
      command: process.execPath,
      args: shape === 'up' ? [BIN, 'up', '--predictors', '2'] : [BIN, 'start'],
      env: {
        ...ports,
        ETASERVE_DATA_DIR: dir,
        ETASERVE_GATEWAY_PORT: String(port),
        ETASERVE_DEMO_API_KEY: KEY,
        ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
        ETASERVE_PIPELINE_SCHEDULE: '',
        ETASERVE_GATEWAY_RESPONSE_CACHE: 'false',
        ETASERVE_LOG_LEVEL: 'warn',
      },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
      readyTimeoutMs: 180_000,
    });
    let promotedAtSec = Number.NaN;
    let measureStart = 0;
    // Scraped a moment before the promotion (not during it), so the difference after the run is that load alone.
    let loadsBefore: Record<string, { sum: number; count: number }> = {};
    try {
      const result = await runLoad(
        {
          url: `http://127.0.0.1:${port}`,
          path: '/v1/eta',
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          rate,
          durationSec: duration,
          warmupSec: 5,
          timeline: true,
          source: { kind: 'jsonl', file: bodies },
          label: name,
        },
        {
          onMeasureStart: () => {
            measureStart = Date.now();
            setTimeout(
              () =>
                void fetch(`http://127.0.0.1:${port}/metrics`)
                  .then((res) => res.text())
                  .then((text) => (loadsBefore = loadSeconds(text))),
              Math.max(0, swapAt - 3) * 1000,
            );
            setTimeout(() => {
              const at = Date.now();
              // Through the admin API, not the CLI: a CLI process starting up would compete for the same cores.
              void fetch(`http://127.0.0.1:${port}/v1/admin/models/v2/promote`, {
                method: 'POST',
                headers: { authorization: `Bearer ${KEY}` },
              })
                .then((res) => res.text())
                .then((out) => {
                  promotedAtSec = (at - measureStart) / 1000;
                  console.log(`t=${promotedAtSec.toFixed(1)} s: ${out.trim()}`);
                });
            }, swapAt * 1000);
          },
        },
      );
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const served =
        /etaserve_model_info\{version="(v\d+)"/.exec(metrics)?.[1] ??
        (shape === 'up' ? 'see the predictors' : '?');
      const loadsAfter = loadSeconds(metrics);
      /** Mean milliseconds of the promotion's load per thread (one process only: the gateway scrapes itself). */
      const swapLoadMs = Object.fromEntries(
        Object.entries(loadsAfter).map(([thread, after]) => {
          const before = loadsBefore[thread] ?? { sum: 0, count: 0 };
          const n = after.count - before.count;
          return [thread, n > 0 ? ((after.sum - before.sum) / n) * 1000 : null];
        }),
      ) as Record<string, number | null>;
      const timeline = result.timeline ?? [];
      const swapSecond = Math.floor(promotedAtSec);
      const near = (p: TimelinePoint): boolean => p.second >= swapSecond - 1 && p.second <= swapSecond + 3;
      const baseline = median(timeline.filter((p) => !near(p)).map((p) => p.p99));
      const around = timeline.filter((p) => p.second >= swapSecond - 5 && p.second <= swapSecond + 5);
      const swapMax = Math.max(0, ...timeline.filter(near).map((p) => p.p99));
      const data = {
        benchmark: 'hot swap under load',
        shape,
        cold,
        machine: machineInfo(),
        rate,
        durationSec: duration,
        // 1-minute load average at the end: on a shared machine, other work explains spikes away from the swap.
        loadAverage: os.loadavg()[0],
        promotedAtSec,
        servedAfter: served,
        overall: {
          sent: result.sent,
          ok: result.ok,
          errors: result.errors,
          timeouts: result.timeouts,
          latencyMs: result.latency,
        },
        baselineP99Ms: baseline,
        swapWindowMaxP99Ms: swapMax,
        spikeRatio: baseline > 0 ? swapMax / baseline : null,
        swapLoadMs,
        timeline,
      };
      const rows = around.map(
        (p) =>
          `| ${p.second}${p.second === swapSecond ? ' (promote)' : ''} | ${p.sent} | ${p.ok} | ${p.p50.toFixed(2)} | ${p.p99.toFixed(2)} | ${p.max.toFixed(2)} |`,
      );
      const md = [
        `# Hot swap under load, ${shape === 'up' ? 'local cluster (2 predictor replicas)' : 'one process'}${cold ? ', promoting a version no predictor has loaded' : ', promoting the challenger'} (${new Date().toISOString().slice(0, 10)})`,
        '',
        `\`npm run bench:swap -- --shape ${shape}${cold ? ' --cold' : ''} --rate ${rate} --duration ${duration} --swap-at ${swapAt}\`: \`etaserve ${shape === 'up' ? 'up --predictors 2' : 'start'}\` (response cache off so every request runs the model), open-loop POST /v1/eta at ${rate}/s; \`POST /v1/admin/models/v2/promote\` at t=${promotedAtSec.toFixed(1)} s of the measured window. The predictor polls the registry every second; a loader thread reads, validates (golden predictions), compiles and warms the version, and the serving thread swaps it in.`,
        '',
        `- machine: ${os.cpus().length} cores, 1-minute load average ${os.loadavg()[0]!.toFixed(1)} at the end of the run`,
        `- requests: ${result.sent} sent, ${result.ok} ok, ${result.errors} errors, ${result.timeouts} timeouts; serving after the run: ${served}`,
        `- p99 per second, median outside the swap window: ${baseline.toFixed(2)} ms; worst second in [swap−1 s, swap+3 s]: ${swapMax.toFixed(2)} ms (×${data.spikeRatio?.toFixed(2) ?? '-'})`,
        ...(swapLoadMs.loader != null
          ? [
              `- the promoted version's load (etaserve_model_load_seconds): ${swapLoadMs.loader.toFixed(1)} ms on the loader thread (read, parse, validate, compile, golden predictions, warm-up), ${swapLoadMs.main?.toFixed(2) ?? '-'} ms on the serving thread (wrap the transferred arrays, probe predictions)`,
            ]
          : []),
        '',
        '| second | sent | ok | p50 ms | p99 ms | max ms |',
        '|---|---|---|---|---|---|',
        ...rows,
      ].join('\n');
      const written = writeResults(name, data, md);
      console.log(md);
      console.log(`wrote ${written.json} and ${written.md}`);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
