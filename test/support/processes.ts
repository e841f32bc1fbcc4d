import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const BIN = path.resolve('bin/etaserve.js');
/** A data directory with a trained model and seeded stores, prepared once by the global setup. */
export const TEMPLATE_DATA_DIR = path.resolve('.tmp/test-template-data');
export const DEMO_KEY = 'es_testdemo_0123456789abcdefghijklmnopqrstuv';

/** Ports freePort gave out in this test process: not bound yet, perhaps, but taken. */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  // Below Linux's ephemeral range (32768+): a port the system handed out could go to another process's outgoing
  // connection before the server under test binds it.
  for (let attempt = 0; attempt < 20; attempt++) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(candidate) || !(await isFree(candidate))) continue;
    handedOut.add(candidate);
    return candidate;
  }
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A fresh copy of the template data directory, removed by `cleanup`. */
export function freshDataDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'etaserve-test-'));
  cpSync(TEMPLATE_DATA_DIR, dir, { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Running {
  process: ChildProcess;
  output: () => string;
  /** SIGTERM, and the exit code once it exits. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Processes under test skip the gateway's warm-up (thousands of requests before it turns ready): tests count their
 * own requests. The warm-up has its own test (gateway-warm-up.test.ts).
 */
export const NO_WARM_UP = { ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0' } as const;

export function run(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ETASERVE_LOG_LEVEL: 'warn', ...NO_WARM_UP, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    process: child,
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Thrown by a waitFor check to stop waiting at once (the process died). */
export class Fatal extends Error {}

export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      if (e instanceof Fatal) throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function waitReady(url: string, running: Running, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    async () => {
      if (running.process.exitCode !== null) throw new Fatal('the process exited early');
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      return res.ok;
    },
    timeoutMs,
    `${url}/readyz`,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- output ---\n${running.output()}`);
  });
}

export interface Platform {
  url: string;
  dataDir: string;
  running: Running;
  /** pids by child name (`predictor-1`, `store`, ...) for the local cluster. */
  pids: Map<string, number>;
  stop(): Promise<number | null>;
}

/** `etaserve start` (every module in one process) on free ports, over a copy of the template data. */
export async function startAll(extraEnv: Record<string, string> = {}): Promise<Platform> {
  const { dir, cleanup } = freshDataDir();
  const port = await freePort();
  const running = run(['start'], {
    ETASERVE_DATA_DIR: dir,
    ETASERVE_GATEWAY_PORT: String(port),
    ETASERVE_DEMO_API_KEY: DEMO_KEY,
    ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
    ...extraEnv,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, running);
  return { url, dataDir: dir, running, pids: new Map(), stop: async () => running.stop().finally(cleanup) };
}

/**
 * Whether `etaserve up` has printed its whole banner: the `state:` line comes after every child's line, so each
 * child's pid is in the output by then (the banner arrives in several writes).
 */
export function upIsListed(output: string): boolean {
  return /local cluster is up[\s\S]*^\s+state:/m.test(output);
}

/** `etaserve up`: store, geo, N predictors and the gateway as separate processes. `args`: more flags of `up`. */
export async function startCluster(
  predictors = 2,
  extraEnv: Record<string, string> = {},
  options: { args?: string[] } = {},
): Promise<Platform> {
  const { dir, cleanup } = freshDataDir();
  const [gateway, store, geo, pipeline] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  // Predictor replicas take consecutive ports from the base.
  let base = 0;
  for (let attempt = 0; attempt < 20 && base === 0; attempt++) {
    // Below Linux's ephemeral range (32768+), where outgoing connections would race us for the port.
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const ports = await Promise.all(Array.from({ length: predictors }, (_, i) => isFree(candidate + i)));
    if (ports.every(Boolean)) base = candidate;
  }
  const running = run(['up', '--predictors', String(predictors), ...(options.args ?? [])], {
    ETASERVE_DATA_DIR: dir,
    ETASERVE_GATEWAY_PORT: String(gateway),
    ETASERVE_STORE_PORT: String(store),
    ETASERVE_GEO_PORT: String(geo),
    ETASERVE_PIPELINE_PORT: String(pipeline),
    ETASERVE_PREDICTOR_PORT: String(base),
    ETASERVE_DEMO_API_KEY: DEMO_KEY,
    ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
    // Fault tests kill a module and watch the cluster without it: `up` restarts it only after 10 minutes here
    // (test/up-supervision.test.ts sets a short delay to test the restart itself).
    ETASERVE_UP_RESTART_DELAY_MS: '600000',
    ...extraEnv,
  });
  const url = `http://127.0.0.1:${gateway}`;
  await waitFor(
    () => {
      if (running.process.exitCode !== null) throw new Fatal('etaserve up exited');
      return upIsListed(running.output());
    },
    150_000,
    'etaserve up',
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- output ---\n${running.output()}`);
  });
  const pids = new Map<string, number>();
  for (const m of running.output().matchAll(/^\s+(\S+)\s+http:\/\/\S+\s+\(pid (\d+)\)$/gm))
    pids.set(m[1]!, Number(m[2]));
  return { url, dataDir: dir, running, pids, stop: async () => running.stop().finally(cleanup) };
}

/** Whether `host:port` can be listened on now (another loopback address: a predictor of the topology test). */
export async function isFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** `key: null` sends no Authorization header. */
export async function postJson(
  url: string,
  body: unknown,
  key: string | null = DEMO_KEY,
): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
