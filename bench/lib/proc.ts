/**
 * Start and stop the processes a benchmark measures: spawn, wait until an HTTP URL answers 2xx, keep the last
 * lines of output for the error message, stop with SIGTERM then SIGKILL. Children die with the harness.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { request } from 'undici';

export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Answers 2xx once the service is ready. */
  readyUrl: string;
  readyTimeoutMs?: number;
}

export interface Service {
  name: string;
  pid: number;
  /** The last lines the process printed (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const c of running) c.kill('SIGKILL');
    process.exit(130);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startService(spec: ServiceSpec): Promise<Service> {
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    if (lines.length > 60) lines.splice(0, lines.length - 60);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      resolve();
    }),
  );
  child.once('error', (err) => lines.push(`spawn error: ${err.message}`));

  const service: Service = {
    name: spec.name,
    pid: child.pid ?? -1,
    output: () => lines.join('\n'),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(t);
    },
  };

  const deadline = Date.now() + (spec.readyTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${spec.name} exited before it was ready:\n${service.output()}`);
    try {
      const res = await request(spec.readyUrl, { headersTimeout: 1000, bodyTimeout: 1000 });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return service;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  await service.stop();
  throw new Error(
    `${spec.name} not ready at ${spec.readyUrl} within ${spec.readyTimeoutMs ?? 30_000} ms:\n${service.output()}`,
  );
}
