/** A private redis-server for the cluster+redis shape: a free port, no persistence, killed with the harness. */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { freePort } from '../lib/proc.js';
import { isFree } from './shapes.js';

export interface Redis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** A private redis-server on a free port, no persistence; undefined when the binary is missing. */
export async function startRedis(dir: string): Promise<Redis | undefined> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  try {
    const svc = await startRedisService(port, dir);
    return { url: `redis://127.0.0.1:${port}`, pid: svc.pid, stop: () => svc.stop() };
  } catch {
    return undefined;
  }
}

async function startRedisService(port: number, dir: string): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  process.once('exit', () => child.kill('SIGKILL'));
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null || child.pid === undefined) break;
    if (!(await isFree(port))) {
      return {
        pid: child.pid,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start');
}
