import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  BIN,
  DEMO_KEY,
  Fatal,
  freePort,
  freshDataDir,
  run,
  upIsListed,
  waitFor,
  waitReady,
  type Running,
} from './support/processes.js';
import { ensureTemplate } from './support/template.js';

/**
 * SIGTERM while a request is in flight: the predictor stops taking new work, finishes the request, and exits 0.
 * The request is slow for a real reason: the store process it needs is frozen (SIGSTOP) until after the SIGTERM.
 * A repeated SIGTERM does not cut the drain short.
 */
describe('graceful shutdown', () => {
  const started: Running[] = [];
  const cleanups: Array<() => void> = [];
  afterEach(async () => {
    for (const r of started) {
      if (r.process.pid && r.process.exitCode === null) process.kill(r.process.pid, 'SIGCONT');
      await r.stop('SIGKILL');
    }
    cleanups.forEach((c) => c());
  });

  it('finishes the in-flight request, then exits 0', async () => {
    await ensureTemplate();
    const { dir, cleanup } = freshDataDir();
    cleanups.push(cleanup);
    const [storePort, predictorPort] = [await freePort(), await freePort()];
    const store = run(['start', '--target', 'store'], {
      ETASERVE_DATA_DIR: dir,
      ETASERVE_STORE_PORT: String(storePort),
      ETASERVE_TOPOLOGY_SHARED_DISK: 'true',
    });
    started.push(store);
    await waitReady(`http://127.0.0.1:${storePort}`, store);
    const predictor = run(['start', '--target', 'predictor'], {
      ETASERVE_DATA_DIR: dir,
      ETASERVE_PREDICTOR_PORT: String(predictorPort),
      ETASERVE_TOPOLOGY_STORE_URL: `http://127.0.0.1:${storePort}`,
      ETASERVE_PREDICTOR_FEATURE_DEADLINE_MS: '10000',
      ETASERVE_TOPOLOGY_REMOTE_TIMEOUT_MS: '10000',
      ETASERVE_DRAIN_TIMEOUT_MS: '20000',
      ETASERVE_TOPOLOGY_SHARED_DISK: 'true',
      // Live state is not kept past its load, so the request below needs the store (the warm-up cached the store's),
      // whether this process hears the store's changes (it follows the store process's cache bus) or not.
      ETASERVE_CACHE_TTL_MS_STORE_LIVE: '1',
      ETASERVE_CACHE_UNHEARD_TTL_MS_STORE_LIVE: '1',
      ETASERVE_CACHE_REFRESH_GRACE_RATIO: '0',
    });
    started.push(predictor);
    const url = `http://127.0.0.1:${predictorPort}`;
    await waitReady(url, predictor);

    process.kill(store.process.pid!, 'SIGSTOP');
    const inFlight = fetch(`${url}/internal/predict/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        storeIds: ['s-0001'],
        destination: { lat: 48.864, lng: 2.352 },
        orderedAtMs: Date.parse('2026-11-26T19:05:00+01:00'),
      }),
    });
    await new Promise((r) => setTimeout(r, 500));
    const exited = predictor.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    expect(predictor.process.exitCode).toBeNull();
    // The same signal again while draining, as from a runtime that signals the group and forwards too: still drains.
    process.kill(predictor.process.pid!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    expect(predictor.process.exitCode).toBeNull();
    process.kill(store.process.pid!, 'SIGCONT');

    const res = await inFlight;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: Array<{ prediction?: { p50: number } }> };
    expect(body.results[0]!.prediction!.p50).toBeGreaterThan(0);
    expect(await exited).toBe(0);
    expect(predictor.output()).not.toContain('second signal');
  });
});

/** `etaserve up --predictors 1` in its own process group, so a group signal reaches it and not the test runner. */
async function startUp(): Promise<{
  parent: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  pids: number[];
  cleanup: () => void;
}> {
  await ensureTemplate();
  const { dir, cleanup: removeDir } = freshDataDir();
  const ports = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const parent = spawn(process.execPath, [BIN, 'up', '--predictors', '1'], {
    env: {
      ...process.env,
      ETASERVE_LOG_LEVEL: 'warn',
      ETASERVE_DATA_DIR: dir,
      ETASERVE_GATEWAY_PORT: String(ports[0]),
      ETASERVE_STORE_PORT: String(ports[1]),
      ETASERVE_GEO_PORT: String(ports[2]),
      ETASERVE_PIPELINE_PORT: String(ports[3]),
      ETASERVE_PREDICTOR_PORT: String(ports[4]),
      ETASERVE_DEMO_API_KEY: DEMO_KEY,
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
      ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  parent.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  parent.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => parent.once('exit', (code) => resolve(code)));
  const pids: number[] = [];
  const cleanup = (): void => {
    if (parent.exitCode === null && parent.signalCode === null) process.kill(-parent.pid!, 'SIGKILL');
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    removeDir();
  };
  try {
    await waitFor(
      () => {
        if (parent.exitCode !== null) throw new Fatal(`etaserve up exited:\n${output}`);
        return upIsListed(output);
      },
      150_000,
      'etaserve up',
    );
  } catch (e) {
    cleanup();
    throw e;
  }
  for (const m of output.matchAll(/\(pid (\d+)\)$/gm)) pids.push(Number(m[1]));
  return { parent, output: () => output, exited, pids, cleanup };
}

describe('graceful shutdown of etaserve up', () => {
  /**
   * One SIGTERM to the process group, as a terminal's Ctrl-C or a container runtime sends it: every child drains
   * once (no "second signal") and exits 0, and so does the parent.
   */
  it('drains every process on one SIGTERM to the group and exits 0', async () => {
    const up = await startUp();
    try {
      expect(up.pids.length).toBe(5); // store, geo, predictor-1, pipeline, gateway
      process.kill(-up.parent.pid!, 'SIGTERM');
      expect(await up.exited).toBe(0);
      expect(up.output()).not.toContain('second signal');
      expect(up.output()).not.toContain('while stopping');
      for (const pid of up.pids) expect(alive(pid)).toBe(false);
    } finally {
      up.cleanup();
    }
  }, 240_000);

  // The children have their own process group, so nothing else would stop them: they watch their parent.
  it('leaves no child running when the parent is killed', async () => {
    const up = await startUp();
    try {
      expect(up.pids.length).toBe(5);
      process.kill(up.parent.pid!, 'SIGKILL');
      await up.exited;
      await waitFor(() => up.pids.every((pid) => !alive(pid)), 60_000, 'every child to exit');
    } finally {
      up.cleanup();
    }
  }, 240_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
