/**
 * `runLoad`: one fixed-rate open-loop load in a separate generator process.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LoadOptions, LoadResult, WorkerMessage } from './types.js';

export interface LoadHooks {
  /** The generator process is up (its pid, for CPU accounting). */
  onWorkerStarted?(pid: number): void;
  onMeasureStart?(): void;
  onMeasureEnd?(): void;
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Paths in options resolve against the caller's working directory before they cross to the worker. */
function resolvePaths(options: LoadOptions): LoadOptions {
  const src = options.source;
  if (!src) return options;
  if (src.kind === 'jsonl') return { ...options, source: { ...src, file: path.resolve(src.file) } };
  return { ...options, source: { ...src, module: path.resolve(src.module) } };
}

/**
 * Runs one open-loop load in its own process (`node --import tsx bench/loadgen/worker.ts`).
 * Rejects if the worker cannot start or the source cannot load; server failures are counted, not thrown.
 */
export function runLoad(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadResult> {
  const resolved = resolvePaths(options);
  return new Promise<LoadResult>((resolve, reject) => {
    const child = fork(WORKER, [], {
      // A larger young generation: fewer scavenges (each a pause charged to every request in flight).
      execArgv: ['--import', TSX, '--max-semi-space-size=32'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
      if (child.exitCode === null && child.signalCode === null) {
        // Give it a moment to exit by itself after disconnect, then make sure.
        setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 2000).unref();
      }
    };
    child.once('spawn', () => {
      if (child.pid !== undefined) hooks.onWorkerStarted?.(child.pid);
      child.send({ type: 'run', options: resolved });
    });
    child.on('message', (msg: WorkerMessage) => {
      switch (msg.type) {
        case 'measure-start':
          hooks.onMeasureStart?.();
          break;
        case 'measure-end':
          hooks.onMeasureEnd?.();
          break;
        case 'result':
          settle(() => resolve(msg.result));
          break;
        case 'error':
          settle(() => reject(new Error(`load generator failed: ${msg.message}`)));
          break;
      }
    });
    child.once('error', (err) => settle(() => reject(err)));
    child.once('exit', (code, signal) =>
      settle(() => reject(new Error(`load generator exited early (code ${code}, signal ${signal})`))),
    );
  });
}
