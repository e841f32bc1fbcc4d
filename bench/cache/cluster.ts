/** `etaserve up --predictors 2` for a benchmark: free ports, wait until up, scrape every process's /metrics, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT } from '../lib/results.js';
import type { Samples } from './ratios.js';

const BIN = path.join(REPO_ROOT, 'bin', 'etaserve.js');

export interface BenchCluster {
  gateway: string;
  predictors: string[];
  /** Every process `up` started, by the name it prints (gateway, predictor-1, store, ...), for CPU accounting. */
  pids: Record<string, number>;
  output(): string;
  stop(): Promise<void>;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** `count` consecutive free ports below the ephemeral range. */
async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free ports');
}

export async function startCluster(
  dataDir: string,
  demoKey: string,
  env: Record<string, string>,
): Promise<BenchCluster> {
  const base = await freePorts(5);
  const child: ChildProcess = spawn(process.execPath, [BIN, 'up', '--predictors', '2'], {
    env: {
      ...process.env,
      ETASERVE_DATA_DIR: dataDir,
      ETASERVE_GATEWAY_PORT: String(base),
      ETASERVE_STORE_PORT: String(base + 1),
      ETASERVE_GEO_PORT: String(base + 2),
      ETASERVE_PREDICTOR_PORT: String(base + 3),
      ETASERVE_DEMO_API_KEY: demoKey,
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
      ETASERVE_LOG_LEVEL: 'error',
      // Node options for the cluster's processes only, not the generator's: for profiling, a `--require` of a script
      // that starts an inspector CPU profile (Node 20 refuses --cpu-prof in NODE_OPTIONS).
      ...(process.env.BENCH_CLUSTER_NODE_OPTIONS
        ? { NODE_OPTIONS: process.env.BENCH_CLUSTER_NODE_OPTIONS }
        : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const late = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(late);
  };
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 300_000;
  while (!out.includes('local cluster is up')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`etaserve up did not start:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 300));
  const pids: Record<string, number> = {};
  for (const m of out.matchAll(/^\s+(\S+)\s+http:\/\/\S+\s+\(pid (\d+)\)/gm)) pids[m[1]!] = Number(m[2]);
  const url = (port: number): string => `http://127.0.0.1:${port}`;
  return { gateway: url(base), predictors: [url(base + 3), url(base + 4)], pids, output: () => out, stop };
}

/** Every sample of `etaserve_cache_requests_total` and `etaserve_cache_evictions_total`, summed over processes. */
export async function scrapeCache(urls: string[]): Promise<Samples> {
  const out: Samples = new Map();
  for (const u of urls) {
    const text = await (await fetch(`${u}/metrics`)).text();
    for (const line of text.split('\n')) {
      const m = /^(etaserve_cache_(?:requests|evictions)_total)\{([^}]*)\} ([0-9.e+]+)$/.exec(line);
      if (!m) continue;
      const labels = m[2]!.replace(/,?target="[^"]*"/, '');
      const key = `${m[1]}{${labels}}`;
      out.set(key, (out.get(key) ?? 0) + Number(m[3]));
    }
  }
  return out;
}
