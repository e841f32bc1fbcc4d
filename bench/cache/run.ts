/**
 * `npm run bench:cache`: hit ratio per cache level and the latency of `POST /v1/eta` with and without caches, on the
 * local cluster (`etaserve up --predictors 2`, plus a standalone Redis L2 when redis-server is installed), at a fixed
 * open-loop rate with the project's load generator and Zipf(1.1) mix over 10,000 stores.
 *
 *   npm run bench:cache -- [--rate 2000] [--duration 20] [--warmup 5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runLoad, type LoadResult } from '../loadgen/index.js';
import { machineInfo, REPO_ROOT, writeResults } from '../lib/results.js';
import { scrapeCache, startCluster, type Samples } from './cluster.js';
import { hitRatios, summary, type Variant } from './report.js';
import { writeMixStores } from './stores.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    connections: { type: 'string', default: '128' },
    seed: { type: 'string', default: '42' },
  },
});
const rate = Number(values.rate);
const durationSec = Number(values.duration);
const warmupSec = Number(values.warmup);
const connections = Number(values.connections);
const seed = Number(values.seed);
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

async function startRedis(): Promise<{ url: string; stop: () => void } | undefined> {
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
  if (failed) return undefined;
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

async function importStores(dataDir: string): Promise<void> {
  const file = path.join(dataDir, 'bench-stores.jsonl');
  const n = writeMixStores(file, seed);
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

async function measure(name: string, dataDir: string, env: Record<string, string>): Promise<Variant> {
  log(`${name}: starting the cluster`);
  const cluster = await startCluster(dataDir, DEMO_KEY, env);
  try {
    const processes = [cluster.gateway, ...cluster.predictors];
    let before: Samples | undefined;
    log(`${name}: ${rate} req/s for ${warmupSec} + ${durationSec} s`);
    const load: LoadResult = await runLoad(
      {
        url: cluster.gateway,
        path: '/v1/eta',
        method: 'POST',
        headers: { authorization: `Bearer ${DEMO_KEY}` },
        rate,
        durationSec,
        warmupSec,
        connections,
        timeoutMs: 2000,
        source: { kind: 'module', module: SOURCE, options: { seed, stores: 10_000, zipfS: 1.1 } },
        timeline: true,
        label: name,
      },
      {
        onMeasureStart: () => void scrapeCache(processes).then((s) => (before = s)),
      },
    );
    const after = await scrapeCache(processes);
    const ratios = hitRatios(before ?? new Map(), after);
    log(
      `${name}: p50 ${load.latency.p50} ms, p95 ${load.latency.p95} ms, p99 ${load.latency.p99} ms, ok ${load.ok}/${load.sent}, combined hit ratio ${ratios.combined}`,
    );
    return { name, env, load, ratios };
  } finally {
    await cluster.stop();
  }
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'etaserve-bench-cache-'));
const redis = await startRedis();
try {
  await importStores(dataDir);
  const variants: Variant[] = [];
  if (redis)
    variants.push(
      await measure('with caches (L1 + Redis L2)', dataDir, { ETASERVE_CACHE_REDIS_URL: redis.url }),
    );
  variants.push(await measure('with caches (L1 only)', dataDir, {}));
  variants.push(await measure('without caches', dataDir, UNCACHED));
  const load = {
    command: `npm run bench:cache -- --rate ${rate} --duration ${durationSec} --warmup ${warmupSec} --connections ${connections} --seed ${seed}`,
    shape: 'etaserve up --predictors 2 (gateway, 2 predictors, store, geo: one process each), SQLite catalog',
    l2: redis
      ? 'standalone Redis (redis-server on loopback) in the first run; none in the others'
      : 'none (redis-server not installed)',
    stores:
      '10,000 stores of bench/peak/mix.ts (seed), imported with `etaserve stores import`; always open, 15 km radius',
    requests:
      'POST /v1/eta, store by Zipf(1.1) popularity, destination log-normal around the store (median 2.5 km), mix baskets, order time = now',
    generator: `bench/loadgen open loop, ${rate} req/s, ${connections} connections, ${warmupSec} s warm-up + ${durationSec} s measured, latency from intended send time`,
    withoutCaches:
      'response cache off; store-profile, store-live and geo-trip caches with a 1 ms TTL and no grace (every lookup loads); no Redis',
  };
  const data = {
    name: 'cache',
    date: new Date().toISOString(),
    machine: machineInfo(),
    load,
    variants,
  };
  const written = writeResults('cache', data, summary(load, variants, machineInfo()));
  log(`results: ${written.json}, ${written.md}`);
} finally {
  redis?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
