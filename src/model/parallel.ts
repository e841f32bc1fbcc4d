import { Worker } from 'node:worker_threads';
import type { HalfBuilder } from './grow.js';

/** Shared control words: [state, begin, end, active feature count]. */
export const IDLE = 0;
export const TASK = 1;
export const DONE = 2;
export const QUIT = 3;

export interface SharedTrainingBuffers {
  bins: Uint8Array;
  nFeatures: number;
  rows: Uint32Array;
  grad: Float32Array;
  hess: Float32Array;
  /** Where the worker writes its half histogram. */
  scratch: Float64Array;
}

export interface HistWorker {
  half: HalfBuilder;
  close(): Promise<void>;
}

/**
 * A second thread that builds the second half of large histograms over SharedArrayBuffers. Hand-off
 * is Atomics wait/notify on a shared word rather than messages: a message round trip costs more than
 * the half it would save on mid-sized nodes.
 */
export async function startHistWorker(buffers: SharedTrainingBuffers): Promise<HistWorker> {
  const ctrl = new Int32Array(new SharedArrayBuffer(16));
  const nF = buffers.nFeatures;
  const active = new Int32Array(new SharedArrayBuffer(nF * 3 * 4));
  // From TypeScript sources (vitest, tsx) Node 20 will not load a .ts worker entry, even with
  // `--import tsx` in execArgv; tsx's CommonJS API can load it. Compiled builds use the .js file.
  const ts = import.meta.url.endsWith('.ts');
  const entry = new URL(ts ? './hist-worker.ts' : './hist-worker.js', import.meta.url);
  const workerData = { ...buffers, ctrl, active };
  const worker = ts
    ? new Worker(
        `require('tsx/cjs/api').require(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)})`,
        { eval: true, workerData },
      )
    : new Worker(entry, { workerData });
  // 'online' is too early: the worker may still be loading modules through hooks that need this
  // thread's event loop, which Atomics.wait below would block.
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`histogram worker exited with code ${code}`)));
  });
  let failure: unknown;
  worker.on('error', (e) => (failure = e));
  const half: HalfBuilder = (inp, begin, end, out) => {
    if (out !== buffers.scratch) throw new Error('the worker writes only to the shared scratch histogram');
    const nA = inp.feats.length;
    active.set(inp.feats, 0);
    active.set(inp.foff, nF);
    active.set(inp.fbins, 2 * nF);
    ctrl[1] = begin;
    ctrl[2] = end;
    ctrl[3] = nA;
    Atomics.store(ctrl, 0, TASK);
    Atomics.notify(ctrl, 0);
    return () => {
      for (let s = Atomics.load(ctrl, 0); s !== DONE; s = Atomics.load(ctrl, 0)) {
        if (failure) throw new Error('histogram worker failed', { cause: failure });
        Atomics.wait(ctrl, 0, s, 1000);
      }
      Atomics.store(ctrl, 0, IDLE);
    };
  };
  return {
    half,
    async close() {
      Atomics.store(ctrl, 0, QUIT);
      Atomics.notify(ctrl, 0);
      await worker.terminate();
    },
  };
}
