import { Worker } from 'node:worker_threads';
import type { Calibration, PortableModel } from '../model/index.js';
import type { RegistryDatabase } from '../registry/index.js';
import type { Probe } from './model-checks.js';

/** Where the loader thread reads an artifact from. */
export type LoadSource =
  /** The registry's database, opened by the loader thread itself: the artifact is never parsed here. */
  | { kind: 'registry'; where: RegistryDatabase; version: string }
  | { kind: 'file'; path: string }
  /** An artifact already in memory (a registry without a database, in tests): copied to the loader thread. */
  | { kind: 'json'; json: unknown };

export interface LoadRequest {
  id: number;
  source: LoadSource;
  /** The feature names the model must take, in order; null accepts any spec (raw OIP serving). */
  expectFeatures: string[] | null;
  warmupRows: number;
  probeRows: number;
}

/** Milliseconds the loader thread spent per step. */
export interface LoadTimings {
  read_ms: number;
  compile_ms: number;
  check_ms: number;
  total_ms: number;
}

export type LoadReply =
  | {
      id: number;
      ok: true;
      model: PortableModel;
      /** The validated artifact as UTF-8 JSON, parsed here only if an explanation asks for it. */
      artifact: Uint8Array;
      /** The artifact's calibration (small): per-segment factors are served on every answer. */
      calibration: Calibration | null;
      probe: Probe;
      timings: LoadTimings;
    }
  /** `refused`: the artifact is bad (a verdict); otherwise it could not be read and a later poll may retry. */
  | { id: number; ok: false; refused: boolean; reason: string; timings?: LoadTimings };

/**
 * No verdict on the artifact: it could not be read (`unreadable`), the loader thread died (`crashed`: could not
 * start, or ran out of memory), or it was closed.
 */
export class ModelLoaderError extends Error {
  override readonly name = 'ModelLoaderError';

  constructor(
    readonly code: 'unreadable' | 'crashed' | 'closed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function startWorker(): Worker {
  // As src/model/parallel.ts: from TypeScript sources (vitest, tsx) Node 20 will not load a .ts worker entry;
  // tsx's CommonJS API can. Compiled builds load the .js file.
  const ts = import.meta.url.endsWith('.ts');
  const entry = new URL(ts ? './model-load-worker.ts' : './model-load-worker.js', import.meta.url);
  return ts
    ? new Worker(
        `require('tsx/cjs/api').require(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)})`,
        { eval: true },
      )
    : new Worker(entry);
}

/**
 * How long the loader thread outlives its last load. Loads come in bursts (the champion, then the challenger, at
 * start or after a promotion) and rarely otherwise: an idle thread is a second V8 isolate with the model library,
 * the registry's driver and its connection, about 30 MB of RSS held for nothing, so it ends and a later load
 * starts a new one (some 100 ms, off the event loop).
 */
export const LOADER_IDLE_MS = 2_000;

/**
 * Reads, parses, validates, compiles and checks model artifacts on a second thread, so none of it runs on the event
 * loop that answers requests. The thread starts on first use and ends `idleMs` after its last load; it holds the
 * process open only while a load is in flight.
 */
export class ModelLoader {
  private worker: Worker | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: LoadReply) => void; reject: (e: Error) => void }
  >();

  constructor(private readonly idleMs = LOADER_IDLE_MS) {}

  /** Whether a loader thread is running now (it ends when idle). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  load(request: Omit<LoadRequest, 'id'>): Promise<LoadReply> {
    this.cancelIdle();
    const worker = (this.worker ??= this.spawn());
    const id = this.nextId++;
    worker.ref();
    return new Promise<LoadReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id } satisfies LoadRequest);
    });
  }

  async close(): Promise<void> {
    this.cancelIdle();
    const worker = this.worker;
    this.worker = undefined;
    this.fail(new ModelLoaderError('closed', 'the model loader was closed'));
    await worker?.terminate();
  }

  private cancelIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Ends the thread once no load came for `idleMs`: the next load starts another. */
  private endWhenIdle(worker: Worker): void {
    this.cancelIdle();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.worker !== worker || this.pending.size > 0) return;
      this.worker = undefined;
      void worker.terminate();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private spawn(): Worker {
    const worker = startWorker();
    worker.on('message', (reply: LoadReply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) {
        worker.unref();
        this.endWhenIdle(worker);
      }
      waiter?.resolve(reply);
    });
    const gone = (e: Error): void => {
      // A thread ended for being idle is no longer this.worker, and has no load in flight to fail.
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.fail(e);
    };
    worker.on('error', (e) =>
      gone(new ModelLoaderError('crashed', `the model loader failed: ${e.message}`, { cause: e })),
    );
    worker.on('exit', (code) =>
      gone(new ModelLoaderError('crashed', `the model loader exited with code ${code}`)),
    );
    return worker;
  }

  private fail(e: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(e);
    this.pending.clear();
  }
}
