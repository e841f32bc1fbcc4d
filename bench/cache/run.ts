/**
 * `npm run bench:cache`: hit ratio per cache and level, and the latency of `POST /v1/eta` with and without caches,
 * on the local cluster (`etaserve up --predictors 2`) at a fixed open-loop rate (issue 5: 2,000 req/s), with the
 * Zipf(1.1) mix over 10,000 stores. Runs, each on a fresh cluster over the same data: with caches and a standalone
 * Redis L2 (when redis-server is installed), with caches in L1 only, and without caches.
 *
 *   npm run bench:cache -- [--rates 2000] [--warmup 120] [--duration 60] [--variants redis,l1,none] [--name cache]
 *
 * `--rates 2000,800` also measures each variant at 800 req/s (on the same cluster, after its own warm-up): where the
 * machine cannot carry the rate, a lower one shows what the caches hold that the uncached cluster cannot.
 *
 * The warm-up runs at the full rate, so the caches fill as they would in service; geo trips live 10 minutes, so
 * their hit ratio is still rising after a 2-minute warm-up (the report is a lower bound for them).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Value } from 'typebox/value';
import { cacheConfigSchema, type CacheConfig } from '../../src/cache/index.js';
import { busyCores, CpuMeter, sampleMachine, usageBetween, type MachineSample } from '../lib/cpu.js';
import type { MeasuredResult } from '../lib/measure.js';
import { machineInfo, REPO_ROOT, writeResults } from '../lib/results.js';
import { runLoad } from '../loadgen/index.js';
import { scrapeCache, startCluster, type BenchCluster } from './cluster.js';
import { hitRatios, zipfColdShare, type Samples } from './ratios.js';
import { summary, type Variant } from './report.js';
import { writeMixStores } from './stores.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '2000' },
    duration: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '120' },
    connections: { type: 'string', default: '128' },
    timeout: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '42' },
    variants: { type: 'string', default: 'redis,l1,none' },
    name: { type: 'string', default: 'cache' },
  },
});
const rates = values.rates.split(',').map(Number);
const rate = rates[0]!;
const durationSec = Number(values.duration);
const warmupSec = Number(values.warmup);
const connections = Number(values.connections);
const timeoutMs = Number(values.timeout);
const seed = Number(values.seed);
const wanted = new Set(values.variants.split(','));
const STORES = 10_000;
const ZIPF_S = 1.1;
const DEMO_KEY = 'es_benchkey_0123456789abcdefghijklmnopqrstuvwx';
const SOURCE = fileURLToPath(new URL('./source.ts', import.meta.url));
const log = (line: string): void => console.log(`[bench:cache] ${line}`);

/** Caches off: no response cache, and feature caches that expire at once (every lookup loads). */
const UNCACHED = {
  ETASERVE_GATEWAY_RESPONSE_CACHE: 'false',
  ETASERVE_CACHE_TTL_MS_STORE_PROFILES: '1',
  ETASERVE_CACHE_TTL_MS_STORE_LIVE: '1',
  ETASERVE_CACHE_TTL_MS_GEO_TRIPS: '1',
  ETASERVE_CACHE_REFRESH_GRACE_RATIO: '0',
  ETASERVE_CACHE_REFRESH_XFETCH_BETA: '0',
};

async function startRedis(): Promise<{ url: string; pid: number; stop: () => void } | undefined> {
  const port = 6400 + Math.floor(Math.random() * 1000);
  let child: ChildProcess;
  try {
    child = spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
  } catch {
    return undefined;
  }
  const failed = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(true));
    setTimeout(() => resolve(child.exitCode !== null), 500);
  });
  if (failed || child.pid === undefined) return undefined;
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGKILL') };
}

async function importStores(dataDir: string): Promise<void> {
  const file = path.join(dataDir, 'bench-stores.jsonl');
  const n = writeMixStores(file, seed, STORES);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'etaserve.js'), 'stores', 'import', file],
      {
        env: { ...process.env, ETASERVE_DATA_DIR: dataDir, ETASERVE_LOG_LEVEL: 'error' },
        stdio: 'ignore',
      },
    );
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`stores import exited ${code}`)),
    );
  });
  log(`imported ${n} stores of the mix`);
}

async function measureAt(
  cluster: BenchCluster,
  name: string,
  cached: boolean,
  env: Record<string, string>,
  extraPids: Record<string, number>,
  rate: number,
): Promise<Variant> {
  const processes = [cluster.gateway, ...cluster.predictors];
  const meter = new CpuMeter({ ...cluster.pids, ...extraPids });
  let before: Promise<Samples> | undefined;
  let m0: MachineSample | undefined;
  let m1: MachineSample | undefined;
  let cpu: ReturnType<CpuMeter['stop']> = {};
  log(`${name}: ${rate} req/s for ${warmupSec} s warm-up + ${durationSec} s measured`);
  const load = await runLoad(
    {
      url: cluster.gateway,
      path: '/v1/eta',
      method: 'POST',
      headers: { authorization: `Bearer ${DEMO_KEY}` },
      rate,
      durationSec,
      warmupSec,
      connections,
      timeoutMs,
      // Draws of their own per rate: a second rate on one cluster must not replay the first one's orders.
      source: {
        kind: 'module',
        module: SOURCE,
        options: { seed, drawSeed: seed + rate, stores: STORES, zipfS: ZIPF_S },
      },
      timeline: true,
      label: `${name} at ${rate} req/s`,
    },
    {
      onWorkerStarted: (pid) => meter.add('generator', pid),
      onMeasureStart: () => {
        before = scrapeCache(processes);
        meter.start();
        m0 = sampleMachine();
      },
      onMeasureEnd: () => {
        cpu = meter.stop();
        m1 = sampleMachine();
      },
    },
  );
  const after = await scrapeCache(processes);
  const usage = usageBetween(cpu, load.ok + load.non2xx);
  const busy = m0 && m1 ? busyCores(m0, m1) : 0;
  const ours = Object.values(usage).reduce((a, u) => a + u.cpuPercent / 100, 0);
  const measured: MeasuredResult = {
    ...load,
    usage,
    machine: {
      busyCores: Math.round(busy * 100) / 100,
      othersCores: Math.round(Math.max(0, busy - ours) * 100) / 100,
    },
  };
  const ratios = hitRatios((await before) ?? new Map(), after, load.ok + load.non2xx);
  log(
    `${name} at ${rate} req/s: achieved ${Math.round(load.achievedRate)}/s, p50 ${load.latency.p50} ms, p99 ${load.latency.p99} ms, ok ${load.ok}/${load.sent}, combined hit ratio ${ratios.combined}, others ${measured.machine.othersCores} cores`,
  );
  return { name, rate, env, cached, load: measured, ratios };
}

/** One fresh cluster per variant, measured at each rate in turn. */
async function measure(
  name: string,
  cached: boolean,
  dataDir: string,
  env: Record<string, string>,
  extraPids: Record<string, number> = {},
): Promise<Variant[]> {
  log(`${name}: starting the cluster`);
  const cluster = await startCluster(dataDir, DEMO_KEY, env);
  try {
    const out: Variant[] = [];
    for (const r of rates) out.push(await measureAt(cluster, name, cached, env, extraPids, r));
    return out;
  } finally {
    await cluster.stop();
  }
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'etaserve-bench-cache-'));
const redis = wanted.has('redis') ? await startRedis() : undefined;
if (wanted.has('redis') && !redis) log('redis-server is not installed: the run with Redis L2 is left out');
try {
  await importStores(dataDir);
  const variants: Variant[] = [];
  if (redis)
    variants.push(
      ...(await measure(
        'with caches (L1 + Redis L2)',
        true,
        dataDir,
        { ETASERVE_CACHE_REDIS_URL: redis.url },
        { redis: redis.pid },
      )),
    );
  if (wanted.has('l1')) variants.push(...(await measure('with caches (L1 only)', true, dataDir, {})));
  if (wanted.has('none')) variants.push(...(await measure('without caches', false, dataDir, UNCACHED)));
  const defaults = Value.Default(cacheConfigSchema, {}) as CacheConfig;
  const liveWindowSec = (defaults.ttlMs.storeLive * (1 + defaults.refresh.graceRatio)) / 1000;
  const load = {
    command: `npm run bench:cache -- --rates ${values.rates} --warmup ${warmupSec} --duration ${durationSec} --connections ${connections} --timeout ${timeoutMs} --seed ${seed} --variants ${values.variants}`,
    shape:
      'etaserve up --predictors 2 (gateway, 2 predictors, store, geo, pipeline: one process each), SQLite catalog, default configuration (destination cells H3 res 8)',
    l2: redis
      ? 'standalone Redis (redis-server on loopback) in the run that names it; none in the others'
      : 'none',
    stores: `${STORES.toLocaleString('en')} stores of bench/peak/mix.ts (seed ${seed}), imported with \`etaserve stores import\`; always open, 15 km delivery radius`,
    requests: `POST /v1/eta, one store each, drawn by Zipf(${ZIPF_S}) popularity; destination log-normal around the store (median 2.5 km, at most 12 km), uniform bearing; basket of the mix (items geometric, subtotal log-normal); no ordered_at (order time = now); every body drawn fresh (draws seeded per rate), none repeated on purpose`,
    generator: `bench/loadgen open loop, ${rates.join(' then ')} req/s offered, ${connections} keep-alive connections, ${warmupSec} s warm-up at the full rate + ${durationSec} s measured, timeout ${timeoutMs} ms from the intended send time`,
    withoutCaches:
      'response cache off; store-profile, store-live and geo-trip caches with a 1 ms TTL and no grace or early refresh (every lookup loads); no Redis',
  };
  const machine = machineInfo();
  const data = { name: values.name, date: new Date().toISOString(), machine, load, variants };
  const written = writeResults(
    values.name,
    data,
    summary(variants, {
      ...(values.name === 'cache'
        ? {}
        : { titleNote: `${values.name}: ${warmupSec} s warm-up + ${durationSec} s per rate` }),
      rate,
      timeoutMs,
      machine,
      load,
      liveWindowSec,
      liveColdShare: zipfColdShare(STORES, ZIPF_S, rate, liveWindowSec),
    }),
  );
  log(`results: ${written.json}, ${written.md}`);
} finally {
  redis?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
