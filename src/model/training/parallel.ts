import { Worker } from 'node:worker_threads';
import {
  Accumulators,
  buildFeatures,
  HIST_STRIDE,
  serialBuilder,
  type HistBuilder,
  type HistTask,
} from './histogram.js';

/** Shared control words: [state, task count, active feature count, first feature of the worker, unit hessian]. */
export const CTRL_WORDS = 5;
export const IDLE = 0;
export const TASK = 1;
export const DONE = 2;
export const QUIT = 3;

/** Below this many row-features a batch is built on one thread: waking the other costs more. */
const PARALLEL_WORK = 16_384;
/** Bytes of shared histograms the worker writes a batch into; larger batches go in several rounds. */
const ARENA_BYTES = 32 << 20;

export interface SharedTrainingBuffers {
  bins: Uint8Array;
  nFeatures: number;
  rows: Uint32Array;
  grad: Float32Array;
  hess: Float32Array;
  /** Doubles in one histogram. */
  histSize: number;
}

/** What the worker receives besides the training buffers. */
export interface WorkerChannel {
  ctrl: Int32Array;
  /** Active feature indices, offsets and bin counts, nFeatures words each. */
  active: Int32Array;
  /** [begin, end) of each task. */
  ranges: Int32Array;
  /** One histogram per task, histSize doubles apart. */
  arena: Float64Array;
}

export interface HistWorker extends HistBuilder {
  close(): Promise<void>;
}

/**
 * Two threads build each batch of histograms: this thread fills the first half of the active features
 * of every node in the batch, a worker the second half, into a shared arena this thread copies from.
 * One hand-off per batch (a tree level), by Atomics wait/notify on a shared word: a message round trip
 * costs more than a small level takes to build. Splitting by feature, not by row, keeps each bin's sum
 * in row order, so the trees are the same with one thread or two.
 */
export async function startHistWorker(buffers: SharedTrainingBuffers): Promise<HistWorker> {
  const nF = buffers.nFeatures;
  const capacity = Math.max(1, Math.floor(ARENA_BYTES / (buffers.histSize * 8)));
  const channel: WorkerChannel = {
    ctrl: new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4)),
    active: new Int32Array(new SharedArrayBuffer(nF * 3 * 4)),
    ranges: new Int32Array(new SharedArrayBuffer(capacity * 2 * 4)),
    arena: new Float64Array(new SharedArrayBuffer(capacity * buffers.histSize * 8)),
  };
  const { ctrl, active, ranges, arena } = channel;
  // This thread's half of every batch and the small batches share one cache of generated loops.
  const accumulators = new Accumulators();
  const serial = serialBuilder(accumulators);
  // From TypeScript sources (vitest, tsx) Node 20 will not load a .ts worker entry, even with
  // `--import tsx` in execArgv; tsx's CommonJS API can load it. Compiled builds use the .js file.
  const ts = import.meta.url.endsWith('.ts');
  const entry = new URL(ts ? './hist-worker.ts' : './hist-worker.js', import.meta.url);
  const workerData = { ...buffers, ...channel };
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

  const round = (inp: Parameters<HistBuilder['build']>[0], tasks: HistTask[]): void => {
    const nA = inp.feats.length;
    const split = nA >> 1;
    tasks.forEach((t, i) => {
      ranges[2 * i] = t.begin;
      ranges[2 * i + 1] = t.end;
    });
    ctrl[1] = tasks.length;
    ctrl[2] = nA;
    ctrl[3] = split;
    ctrl[4] = inp.unitHessian ? 1 : 0;
    Atomics.store(ctrl, 0, TASK);
    Atomics.notify(ctrl, 0);
    for (const t of tasks) buildFeatures(inp, t, 0, split, accumulators);
    for (let s = Atomics.load(ctrl, 0); s !== DONE; s = Atomics.load(ctrl, 0)) {
      if (failure) throw new Error('histogram worker failed', { cause: failure });
      Atomics.wait(ctrl, 0, s, 1000);
    }
    Atomics.store(ctrl, 0, IDLE);
    const { foff, fbins } = inp;
    const from = foff[split]!;
    const to = foff[nA - 1]! + fbins[nA - 1]! * HIST_STRIDE;
    tasks.forEach((t, i) => {
      const at = i * buffers.histSize;
      t.hist.set(arena.subarray(at + from, at + to), from);
    });
  };

  return {
    build(inp, tasks) {
      let work = 0;
      for (const t of tasks) work += t.end - t.begin;
      work *= inp.feats.length;
      if (inp.feats.length < 2 || work < PARALLEL_WORK) return serial.build(inp, tasks);
      active.set(inp.feats, 0);
      active.set(inp.foff, nF);
      active.set(inp.fbins, 2 * nF);
      for (let i = 0; i < tasks.length; i += capacity) round(inp, tasks.slice(i, i + capacity));
    },
    async close() {
      Atomics.store(ctrl, 0, QUIT);
      Atomics.notify(ctrl, 0);
      await worker.terminate();
    },
  };
}
