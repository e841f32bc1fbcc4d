import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { isLoopback, prepareFirstRun } from '../app/index.js';
import { eventBackend } from '../events/index.js';
import { newDemoKey } from '../gateway/index.js';
import { fetchWithin } from '../platform/index.js';
import { parseCommand } from './help.js';
import type { Output } from './output.js';
import { loadConfigOrExplain } from './start-command.js';

const USAGE = `Usage: etaserve up [--predictors N] [--redis URL] [--postgres URL] [--config FILE]

Starts the local cluster: store, geo, N predictor replicas, the pipeline (continuous training) and the gateway
(with the order state), each its own process on its own port, with the gateway on the same port as \`etaserve start\`. This parent
listens on no port. Like start, it trains a model first if none is registered.

Ctrl-C or SIGTERM (to this process or to its process group) drains and stops every child, the gateway first,
and exits 0 when each of them exited 0. A child that crashes (non-zero exit or a signal) is restarted after
0.5 s, the delay doubling per crash up to 30 s and reset once it stays up a minute (ETASERVE_UP_RESTART_DELAY_MS
sets the first delay); each restart is logged with the running count etaserve_up_restarts_total.

The children share an internal token generated for this run (unless platform.internalToken or
platform.internalTokenFile is set); on a loopback host the gateway has a demo key with every scope.

By default the children share this machine's data directory: the event log in segment files (they are given
topology.sharedDisk=true), the catalog and the model registry in SQLite. --redis and --postgres run the production
shape instead, state only in shared infrastructure: the event log in Redis Streams (events.backend=redis; that Redis
must be noeviction, see docs/events.md), also the cache's Redis unless cache.redisUrl or cache.redisClusterNodes is
set; the store catalog and the model registry in PostgreSQL (store.database=postgres).

Options:
  --predictors N  predictor replicas (default 2)
  --redis URL     Redis for the event log (Redis Streams) and the cache: events.backend=redis, events.redisUrl
  --postgres URL  PostgreSQL for the store catalog and the model registry: store.database=postgres
  --config FILE   YAML or JSON config file, passed to every child
  -h, --help      this help`;

const BIN = fileURLToPath(new URL('../../bin/etaserve.js', import.meta.url));

/**
 * glibc gives each thread that allocates its own malloc arena (up to 8 per core), and a Node process has a dozen
 * threads (libuv's pool, V8's platform workers): arenas that each keep freed memory. Two are plenty for a process
 * whose allocations are mostly V8's own heap, and it must be set before the process starts (glibc reads it once),
 * so here, for each child; a value in this parent's environment wins.
 */
const CHILD_MALLOC_ENV: Record<string, string> = { MALLOC_ARENA_MAX: '2' };

/** A crashed child comes back after this, doubling per crash up to MAX_RESTART_DELAY_MS. */
const RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;
/** A child that stayed up this long is healthy again: its next crash waits the first delay. */
const STABLE_MS = 60_000;

interface Child {
  name: string;
  url: string;
  process: ChildProcess;
  /** How to start it again. */
  target: string;
  env: Record<string, string>;
  startedAt: number;
  /** Crashes since it was last stable (the backoff's exponent). */
  attempts: number;
  restartTimer?: NodeJS.Timeout;
}

async function waitReady(child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null || child.process.signalCode !== null)
      throw new Error(`${child.name} exited (${exitReason(child.process)}) while starting`);
    try {
      const ok = await fetchWithin(`${child.url}/readyz`, 1000, async (res) => {
        await res.body?.cancel();
        return res.ok;
      });
      if (ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${child.name} was not ready within ${timeoutMs / 1000} s`);
}

function exitReason(p: { exitCode: number | null; signalCode: NodeJS.Signals | null }): string {
  return p.signalCode ? `signal ${p.signalCode}` : `code ${p.exitCode}`;
}

export async function runUpCommand(args: string[], out: Output): Promise<number> {
  const parsed = parseCommand(
    args,
    {
      predictors: { type: 'string', default: '2' },
      redis: { type: 'string' },
      postgres: { type: 'string' },
      config: { type: 'string' },
    },
    USAGE,
    out,
  );
  if ('exit' in parsed) return parsed.exit;
  const predictors = Number(parsed.values.predictors);
  if (!Number.isInteger(predictors) || predictors < 1 || predictors > 32) {
    out.error(`--predictors must be an integer from 1 to 32, got ${String(parsed.values.predictors)}`);
    return 2;
  }
  const redisUrl = parsed.values.redis as string | undefined;
  const postgresUrl = parsed.values.postgres as string | undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\/./.test(redisUrl)) {
    out.error(`--redis must be a redis:// or rediss:// URL, got ${redisUrl}`);
    return 2;
  }
  if (postgresUrl !== undefined && !/^postgres(ql)?:\/\/./.test(postgresUrl)) {
    out.error(`--postgres must be a postgres:// or postgresql:// URL, got ${postgresUrl}`);
    return 2;
  }
  const configFile = parsed.values.config as string | undefined;
  const config = loadConfigOrExplain(configFile, out);
  if (!config) return 1;
  // Settings every child gets (over the config file, under each child's own), and this parent too (first run).
  const sharedEnv: Record<string, string> = {};
  if (redisUrl) {
    sharedEnv.ETASERVE_EVENTS_BACKEND = 'redis';
    sharedEnv.ETASERVE_EVENTS_REDIS_URL = redisUrl;
    config.events = { ...config.events, backend: 'redis', redisUrl };
    if (!config.cache.redisUrl && config.cache.redisClusterNodes.length === 0)
      sharedEnv.ETASERVE_CACHE_REDIS_URL = redisUrl;
  }
  if (postgresUrl) {
    sharedEnv.ETASERVE_STORE_DATABASE = 'postgres';
    sharedEnv.ETASERVE_STORE_POSTGRES_URL = postgresUrl;
    config.store = { ...config.store, database: 'postgres', postgresUrl };
  }
  // Segment files are shared only because every child runs here, over one data directory.
  if (eventBackend(config.events) === 'file') sharedEnv.ETASERVE_TOPOLOGY_SHARED_DISK = 'true';
  await prepareFirstRun(config, { trainModel: true, seedStores: true }, out);

  const host = config.platform.host === '0.0.0.0' ? '127.0.0.1' : config.platform.host;
  const url = (port: number): string => `http://${host}:${port}`;
  const storeUrl = url(config.store.port);
  const geoUrl = url(config.geo.port);
  const predictorUrls = Array.from({ length: predictors }, (_, i) => url(config.predictor.port + i));
  // The demo key only on loopback (a demo shape); elsewhere the gateway creates or reads an admin key itself.
  const demoKey = isLoopback(host) ? config.gateway.demoApiKey || newDemoKey() : undefined;
  // Every internal route of the children requires this token; each child's clients send it.
  const tokenEnv: Record<string, string> =
    config.platform.internalToken || config.platform.internalTokenFile
      ? {}
      : { ETASERVE_INTERNAL_TOKEN: randomBytes(32).toString('base64url') };
  const children: Child[] = [];
  let stopping = false;
  // Crashes are restarted once the cluster is up; while it starts, a crash means it cannot start.
  let supervising = false;
  let restartsTotal = 0;
  const firstDelay = Number(process.env.ETASERVE_UP_RESTART_DELAY_MS ?? RESTART_DELAY_MS) || RESTART_DELAY_MS;
  const maxDelay = Math.max(firstDelay, MAX_RESTART_DELAY_MS);

  const spawnChild = (child: Child): void => {
    const proc = spawn(
      process.execPath,
      [BIN, 'start', '--target', child.target, ...(configFile ? ['--config', configFile] : [])],
      {
        env: { ...CHILD_MALLOC_ENV, ...process.env, ...tokenEnv, ...sharedEnv, ...child.env },
        // Its own process group: a signal to this parent's group (Ctrl-C, a container runtime) reaches the parent
        // only, which forwards it once, in order. The IPC channel tells the child when the parent is gone.
        detached: true,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    child.process = proc;
    child.startedAt = Date.now();
    proc.on('exit', (code, signal) => {
      if (stopping) return;
      const why = exitReason({ exitCode: code, signalCode: signal });
      if (!supervising) return; // waitReady reports it
      if (code === 0 && !signal) {
        out.error(`${child.name} exited (code 0) without being asked to; not restarting it`);
        return;
      }
      const upMs = Date.now() - child.startedAt;
      if (upMs >= STABLE_MS) child.attempts = 0;
      child.attempts++;
      restartsTotal++;
      const delay = Math.min(maxDelay, firstDelay * 2 ** (child.attempts - 1));
      out.error(
        `${child.name} exited (${why}) after ${(upMs / 1000).toFixed(1)} s; restart attempt ${child.attempts} in ${(delay / 1000).toFixed(1)} s (etaserve_up_restarts_total ${restartsTotal})`,
      );
      child.restartTimer = setTimeout(() => {
        child.restartTimer = undefined;
        if (stopping) return;
        spawnChild(child);
        out.log(`${child.name} restarted (pid ${child.process.pid})`);
      }, delay);
    });
  };

  const launch = (name: string, target: string, childUrl: string, env: Record<string, string>): Child => {
    const child: Child = {
      name,
      url: childUrl,
      target,
      env,
      attempts: 0,
      startedAt: 0,
      process: undefined as unknown as ChildProcess,
    };
    spawnChild(child);
    children.push(child);
    return child;
  };

  /** Stops every child, the gateway first; true when each one that was running exited 0. */
  const stopAll = async (): Promise<boolean> => {
    stopping = true;
    let clean = true;
    for (const child of children) clearTimeout(child.restartTimer);
    // The gateway first, so nothing new reaches the modules behind it while they drain.
    for (const child of [...children].reverse()) {
      const proc = child.process;
      if (proc.exitCode !== null || proc.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), config.platform.drainTimeoutMs + 3000);
      await exited;
      clearTimeout(timer);
      if (proc.exitCode !== 0) {
        clean = false;
        out.error(`${child.name} exited (${exitReason(proc)}) while stopping`);
      }
    }
    return clean;
  };

  const onSignal = (): void => {
    // The signal is forwarded once: a repeat (a second Ctrl-C) waits for the same drain.
    if (stopping) return;
    out.log('stopping the cluster…');
    void stopAll().then((clean) => {
      if (restartsTotal > 0) out.log(`etaserve_up_restarts_total ${restartsTotal}`);
      process.exit(clean ? 0 : 1);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const store = launch('store', 'store', storeUrl, { ETASERVE_STORE_PORT: String(config.store.port) });
    const geo = launch('geo', 'geo', geoUrl, { ETASERVE_GEO_PORT: String(config.geo.port) });
    await Promise.all([waitReady(store, 60_000), waitReady(geo, 60_000)]);
    const replicas = predictorUrls.map((u, i) =>
      launch(`predictor-${i + 1}`, 'predictor', u, {
        ETASERVE_PREDICTOR_PORT: String(config.predictor.port + i),
        ETASERVE_TOPOLOGY_STORE_URL: storeUrl,
        ETASERVE_TOPOLOGY_GEO_URL: geoUrl,
      }),
    );
    // Continuous training: works from the shared data directory (event log, lake, registry), so it needs no port
    // of the others; predictors pick up what it promotes through the registry aliases.
    const pipeline = launch('pipeline', 'pipeline', url(config.pipeline.port), {
      ETASERVE_PIPELINE_PORT: String(config.pipeline.port),
      ETASERVE_TOPOLOGY_STORE_URL: storeUrl,
      ETASERVE_TOPOLOGY_GEO_URL: geoUrl,
    });
    await Promise.all([...replicas, pipeline].map((r) => waitReady(r, 120_000)));
    // The order state runs beside the gateway: one gateway here, and it writes the log, so late-risk alerts go in.
    const gateway = launch('gateway', 'gateway,orders', url(config.gateway.port), {
      ETASERVE_GATEWAY_PORT: String(config.gateway.port),
      ETASERVE_TOPOLOGY_STORE_URL: storeUrl,
      ETASERVE_TOPOLOGY_GEO_URL: geoUrl,
      ETASERVE_TOPOLOGY_PREDICTOR_URLS: predictorUrls.join(','),
      ...(demoKey ? { ETASERVE_DEMO_API_KEY: demoKey, ETASERVE_LOCAL_CLUSTER: '1' } : {}),
    });
    await waitReady(gateway, 60_000);
  } catch (e) {
    out.error(`the cluster did not start: ${(e as Error).message}`);
    await stopAll();
    return 1;
  }

  supervising = true;
  out.log('etaserve local cluster is up:');
  for (const child of children)
    out.log(`  ${child.name.padEnd(12)} ${child.url}  (pid ${child.process.pid})`);
  out.log(`  console:     ${url(config.gateway.port)}/`);
  out.log(
    `  state:       event log ${eventBackend(config.events) === 'redis' ? 'in Redis Streams' : 'in segment files (shared disk)'}, catalog and registry in ${config.store.database === 'postgres' ? 'PostgreSQL' : 'SQLite'}`,
  );
  if (demoKey) out.log(`  demo API key (every scope): ${demoKey}`);
  return new Promise<number>(() => undefined);
}
