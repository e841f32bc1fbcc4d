import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './binaries.js';

/**
 * Real Redis servers for tests, started from the binaries on the PATH. Each server is a child process in the
 * foreground (not daemonised), so a test can kill -9 it and the harness can always reap it on exit.
 */

const run = promisify(execFile);

export interface RedisServer {
  url: string;
  port: number;
  /** Graceful shutdown and temp dir removal. */
  stop(): Promise<void>;
  /** SIGKILL, no shutdown: an outage as clients see it. */
  kill9(): Promise<void>;
  /** Start again on the same port (after kill9 or stop), empty, since nothing is persisted. */
  restart(): Promise<void>;
}

export interface RedisClusterServers {
  /** `127.0.0.1:port` of every node, masters and replicas. */
  nodes: string[];
  /** SIGKILL one node. */
  killNode(port: number): Promise<void>;
  /** Ports of the nodes that are masters now. */
  masters(): Promise<number[]>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A crashed or aborted test run must not leave servers behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The kernel picks a free port (bind to 0); a race with another process is handled by retrying the start. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function cli(bin: string, port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(bin, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 5000 });
  return stdout;
}

async function waitFor(what: string, deadlineMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
}

function spawnServer(bin: string, port: number, dir: string, extra: string[]): Proc {
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  const child = spawn(bin, [...args, ...extra], { stdio: ['ignore', 'ignore', 'inherit'] });
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  return { child, exited };
}

async function startOne(
  bins: { server: string; cli: string },
  port: number,
  dir: string,
  extra: string[] = [],
): Promise<Proc | undefined> {
  const proc = spawnServer(bins.server, port, dir, extra);
  let gone = false;
  void proc.exited.then(() => (gone = true));
  try {
    await waitFor(`redis on ${port}`, 5000, async () => {
      if (gone) throw new Error('exited');
      return (await cli(bins.cli, port, 'ping')).trim() === 'PONG';
    });
    return proc;
  } catch {
    proc.child.kill('SIGKILL');
    await proc.exited;
    return undefined;
  }
}

async function kill(proc: Proc | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill(signal);
  await proc.exited;
}

function binaries(why: string): { server: string; cli: string } | undefined {
  const server = requireBinary('redis-server', why);
  const client = requireBinary('redis-cli', why);
  return server && client ? { server, cli: client } : undefined;
}

/**
 * A standalone Redis on a free port. undefined (after a loud warning) when redis-server is not installed. `args`
 * come after the defaults and win (`['--appendonly', 'yes']` for an event log's Redis).
 */
export async function startRedis(options: { args?: string[] } = {}): Promise<RedisServer | undefined> {
  const bins = binaries('Redis tests');
  if (!bins) return undefined;
  installExitHook();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-redis-'));
  let proc: Proc | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 5 && !proc; attempt++) {
    port = await freePort();
    proc = await startOne(bins, port, dir, options.args);
  }
  if (!proc) throw new Error('could not start redis-server on a free port');
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await kill(proc, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    async kill9() {
      await kill(proc, 'SIGKILL');
    },
    async restart() {
      await kill(proc, 'SIGKILL');
      // The port was ours a moment ago; TIME_WAIT does not block a listening socket, but retry a little anyway.
      for (let attempt = 0; attempt < 10; attempt++) {
        proc = await startOne(bins, port, dir, options.args);
        if (proc) return;
        await sleep(200);
      }
      throw new Error(`could not restart redis-server on ${port}`);
    },
  };
  return server;
}

/** Six ports p whose cluster bus port p + 10000 is free as well. */
async function clusterPorts(): Promise<number[]> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 15000 + Math.floor(Math.random() * 10000);
    const ports = [0, 1, 2, 3, 4, 5].map((i) => base + i);
    const checks = await Promise.all(ports.flatMap((p) => [portIsFree(p), portIsFree(p + 10000)]));
    if (checks.every(Boolean)) return ports;
  }
  throw new Error('no six free ports for a Redis Cluster');
}

function infoField(info: string, field: string): string | undefined {
  const line = info.split(/\r?\n/).find((l) => l.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim();
}

/**
 * A Redis Cluster of three masters and three replicas. Resolves once every node reports `cluster_state:ok` and
 * every replica's link to its master is up, so a failover test starts from a healthy cluster.
 */
export async function startRedisCluster(): Promise<RedisClusterServers | undefined> {
  const bins = binaries('Redis Cluster tests');
  if (!bins) return undefined;
  installExitHook();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-redis-cluster-'));
  const procs = new Map<number, Proc>();
  const stopAll = async (): Promise<void> => {
    await Promise.all([...procs.values()].map((p) => kill(p, 'SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let ports: number[] = [];
    for (let attempt = 0; attempt < 5 && procs.size < 6; attempt++) {
      await Promise.all([...procs.values()].map((p) => kill(p, 'SIGKILL')));
      procs.clear();
      ports = await clusterPorts();
      const started = await Promise.all(
        ports.map((p) =>
          startOne(bins, p, dir, [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${p}.conf`,
            '--cluster-node-timeout',
            '2000',
          ]),
        ),
      );
      started.forEach((proc, i) => proc && procs.set(ports[i]!, proc));
    }
    if (procs.size < 6) throw new Error('could not start six redis-server nodes');
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    await run(bins.cli, ['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 30_000,
    });
    await waitFor('cluster_state:ok and linked replicas', 30_000, async () => {
      for (const p of ports) {
        if (infoField(await cli(bins.cli, p, 'cluster', 'info'), 'cluster_state') !== 'ok') return false;
        const replication = await cli(bins.cli, p, 'info', 'replication');
        const role = infoField(replication, 'role');
        if (role === 'slave' && infoField(replication, 'master_link_status') !== 'up') return false;
        if (role === 'master' && infoField(replication, 'connected_slaves') !== '1') return false;
      }
      return true;
    });
    return {
      nodes,
      async killNode(port: number) {
        await kill(procs.get(port), 'SIGKILL');
      },
      async masters() {
        const out: number[] = [];
        for (const [p, proc] of procs) {
          if (proc.child.exitCode !== null || proc.child.signalCode !== null) continue;
          const role = infoField(await cli(bins.cli, p, 'info', 'replication'), 'role');
          if (role === 'master') out.push(p);
        }
        return out;
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
