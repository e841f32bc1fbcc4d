import { parentPort, workerData } from 'node:worker_threads';
import { Accumulators, buildFeatures, type HistInput } from './histogram.js';
import { DONE, QUIT, TASK, type SharedTrainingBuffers, type WorkerChannel } from './parallel.js';

/** Serves one training run's batches until told to quit; everything it keeps lives in this call. */
function serve(d: SharedTrainingBuffers & WorkerChannel): void {
  const { ctrl, active, ranges, arena, histSize } = d;
  const nF = d.nFeatures;
  const accumulators = new Accumulators();
  parentPort?.postMessage('ready');
  for (;;) {
    const s = Atomics.load(ctrl, 0);
    if (s === QUIT) break;
    if (s !== TASK) {
      Atomics.wait(ctrl, 0, s);
      continue;
    }
    const nTasks = ctrl[1]!;
    const nA = ctrl[2]!;
    const inp: HistInput = {
      bins: d.bins,
      nFeatures: nF,
      rows: d.rows,
      grad: d.grad,
      hess: d.hess,
      feats: active.subarray(0, nA),
      foff: active.subarray(nF, nF + nA),
      fbins: active.subarray(2 * nF, 2 * nF + nA),
      unitHessian: ctrl[4] === 1,
    };
    for (let t = 0; t < nTasks; t++) {
      const task = { begin: ranges[2 * t]!, end: ranges[2 * t + 1]!, hist: arena.subarray(t * histSize) };
      buildFeatures(inp, task, ctrl[3]!, nA, accumulators);
    }
    Atomics.store(ctrl, 0, DONE);
    Atomics.notify(ctrl, 0);
  }
}

serve(workerData as SharedTrainingBuffers & WorkerChannel);
