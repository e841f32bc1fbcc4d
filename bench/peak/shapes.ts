/**
 * The platform shapes scenarios 2-5 measure: embedded `etaserve start` and the local cluster `etaserve up
 * --predictors 2` (optionally with a Redis L2), each on its own copy of one prepared data dir (a 10,000-store
 * simulated city and its trained model v1), on free ports, with a fixed demo key. Also: the catalog the mix reads,
 * Prometheus counters summed over a shape's processes, and the model registry CLI (train, promote).
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, startService } from '../lib/proc.js';
import type { Service } from '../lib/proc.js';
import { REPO_ROOT } from '../lib/results.js';
import type { CatalogStore } from './mix.js';

const exec = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'etaserve.js');
export const BENCH_KEY = 'es_benchpeak_0123456789abcdefghijklmnopqrstu';
export const AUTH = { authorization: `Bearer ${BENCH_KEY}` };

export interface CityOptions {
  stores: number;
  /** Days of simulated history for the model (fewer in --quick: training is the slow part of a start). */
  days: number;
  trees?: number;
}

export interface Shape {
  name: string;
  gateway: string;
  /** Process name -> pid, for CPU and RSS accounting (cluster: the child of each module, not the parent). */
  pids: Record<string, number>;
  /** Every process's origin, for /metrics. */
  urls: string[];
  urlsByName: Record<string, string>;
  dataDir: string;
  stop(): Promise<void>;
  output(): string;
}

export function cityEnv(dataDir: string, city: CityOptions): Record<string, string> {
  return {
    ETASERVE_DATA_DIR: dataDir,
    ETASERVE_SIMULATOR_STORES: String(city.stores),
    ETASERVE_SIMULATOR_DAYS: String(city.days),
    ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
    ETASERVE_DEMO_API_KEY: BENCH_KEY,
    ETASERVE_LOG_LEVEL: 'warn',
    ...(city.trees ? { ETASERVE_PIPELINE_TREES: String(city.trees) } : {}),
  };
}

/** `etaserve <args>` on a data dir; throws with its output when it fails. */
export function etaserveCli(env: Record<string, string>, ...args: string[]): Promise<string> {
  return etaserveCliIn(REPO_ROOT, env, ...args);
}

/** `etaserve <args>` of the checkout at `repoRoot` (another commit's worktree: bench:peak --compare). */
export async function etaserveCliIn(
  repoRoot: string,
  env: Record<string, string>,
  ...args: string[]
): Promise<string> {
  try {
    const { stdout } = await exec(process.execPath, [path.join(repoRoot, 'bin', 'etaserve.js'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      maxBuffer: 16 << 20,
    });
    return stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `etaserve ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`,
    );
  }
}

/**
 * The data dir every run copies: model v1 trained on the simulated city (`etaserve train`). Kept between runs of
 * the harness under bench/tmp/ (keyed by the city), so only the first run pays for training.
 */
export async function prepareTemplate(
  root: string,
  city: CityOptions,
  repoRoot: string = REPO_ROOT,
): Promise<string> {
  const dir = path.join(root, `template-${city.stores}s-${city.days}d-${city.trees ?? 'default'}t`);
  if (existsSync(path.join(dir, '.ready'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await etaserveCliIn(repoRoot, cityEnv(dir, city), 'train');
  writeFileSync(path.join(dir, '.ready'), 'model v1 trained\n');
  return dir;
}

/** A fresh copy of the template for one shape, under `root`: its own event log, registry and catalog. */
export function runDataDir(template: string, root: string, name: string): string {
  const dir = path.join(root, `${name}-${Date.now().toString(36)}`);
  cpSync(template, dir, { recursive: true, filter: (src) => !src.endsWith('.ready') });
  return dir;
}

export async function startEmbedded(
  dataDir: string,
  city: CityOptions,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<Shape> {
  const port = await freePort();
  const svc: Service = await startService({
    name: 'embedded',
    command: process.execPath,
    args: [...nodeArgs, BIN, 'start'],
    cwd: REPO_ROOT,
    env: { ...cityEnv(dataDir, city), ETASERVE_GATEWAY_PORT: String(port), ...env },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    readyTimeoutMs: 180_000,
  });
  const gateway = `http://127.0.0.1:${port}`;
  return {
    name: 'embedded',
    gateway,
    pids: { embedded: svc.pid },
    urls: [gateway],
    urlsByName: { embedded: gateway },
    dataDir,
    stop: () => svc.stop(),
    output: () => svc.output(),
  };
}

export function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no 5 consecutive free ports');
}

/**
 * `etaserve up --predictors 2` (of the checkout at `repoRoot`: another commit's worktree for bench:peak --compare);
 * ready when the parent prints its `  <name>  <url>  (pid N)` lines.
 */
export async function startCluster(
  dataDir: string,
  city: CityOptions,
  env: Record<string, string> = {},
  repoRoot: string = REPO_ROOT,
): Promise<Shape> {
  const base = await freePortRange(5);
  const bin = path.join(repoRoot, 'bin', 'etaserve.js');
  const child: ChildProcess = spawn(process.execPath, [bin, 'up', '--predictors', '2'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...cityEnv(dataDir, city),
      ETASERVE_GATEWAY_PORT: String(base),
      ETASERVE_STORE_PORT: String(base + 1),
      ETASERVE_GEO_PORT: String(base + 2),
      ETASERVE_PREDICTOR_PORT: String(base + 3),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  };
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 240_000;
  while (!out.includes('local cluster is up')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`etaserve up did not start:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 300));
  const pids: Record<string, number> = {};
  const urlsByName: Record<string, string> = {};
  for (const m of out.matchAll(/^\s+(\S+)\s+(http:\/\/\S+)\s+\(pid (\d+)\)/gm)) {
    pids[m[1]!] = Number(m[3]);
    urlsByName[m[1]!] = m[2]!;
  }
  const urls = Object.values(urlsByName);
  return {
    name: 'cluster',
    gateway: `http://127.0.0.1:${base}`,
    pids,
    urls,
    urlsByName,
    dataDir,
    stop,
    output: () => out,
  };
}

/** Every store of the catalog (`GET /v1/stores`, paged), as the mix reads it. */
export async function fetchCatalog(gateway: string, file: string): Promise<number> {
  const stores: CatalogStore[] = [];
  const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const minutes = (hhmm: string): number => {
    const [h, m] = hhmm.split(':').map(Number);
    return h! * 60 + m!;
  };
  let cursor: string | null = null;
  do {
    // Small pages, retried: the gateway gives the store module a short deadline, and a fresh process is cold.
    const q: string = `limit=250${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    let res = await fetch(`${gateway}/v1/stores?${q}`, { headers: AUTH });
    for (let retry = 0; !res.ok && retry < 5; retry++) {
      await new Promise((r) => setTimeout(r, 500));
      res = await fetch(`${gateway}/v1/stores?${q}`, { headers: AUTH });
    }
    if (!res.ok) throw new Error(`GET /v1/stores: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as {
      stores: {
        store_id: string;
        location: { lat: number; lng: number };
        timezone: string;
        delivery_radius_km: number;
        opening_hours?: Record<string, Array<[string, string]>>;
      }[];
      next_cursor: string | null;
    };
    for (const s of page.stores) {
      const oh = s.opening_hours;
      // {} (or no hours) is open 24/7.
      const open247 = !oh || Object.keys(oh).length === 0;
      const hours = open247
        ? undefined
        : days.map((d) =>
            (oh[d] ?? []).map(([o, c]): [number, number] => {
              const om = minutes(o);
              const cm = minutes(c);
              return [om, cm <= om ? cm + 1440 : cm];
            }),
          );
      stores.push({
        id: s.store_id,
        lat: s.location.lat,
        lng: s.location.lng,
        timezone: s.timezone,
        radiusKm: s.delivery_radius_km,
        ...(hours ? { hours } : { hours: days.map(() => [[0, 1440]]) }),
      });
    }
    cursor = page.next_cursor;
  } while (cursor);
  writeFileSync(file, JSON.stringify(stores));
  return stores.length;
}

/** Sums of every sample of `name` (optionally only samples whose labels contain `match`) over the processes. */
export async function scrapeCounter(urls: string[], name: string, match = ''): Promise<number> {
  let total = 0;
  for (const u of urls) {
    const res = await fetch(`${u}/metrics`).catch(() => undefined);
    if (!res?.ok) continue;
    for (const line of (await res.text()).split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (match && !line.includes(match)) continue;
      total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
    }
  }
  return total;
}
