import { parentPort, workerData } from 'node:worker_threads';
import { accumulate, zeroHistogram, type HistInput } from './histogram.js';
import { DONE, QUIT, TASK, type SharedTrainingBuffers } from './parallel.js';

const d = workerData as SharedTrainingBuffers & { ctrl: Int32Array; active: Int32Array };
const { ctrl, active } = d;
const nF = d.nFeatures;

parentPort?.postMessage('ready');
for (;;) {
  const s = Atomics.load(ctrl, 0);
  if (s === QUIT) break;
  if (s !== TASK) {
    Atomics.wait(ctrl, 0, s);
    continue;
  }
  const nA = ctrl[3]!;
  const inp: HistInput = {
    bins: d.bins,
    nFeatures: nF,
    rows: d.rows,
    grad: d.grad,
    hess: d.hess,
    feats: active.subarray(0, nA),
    foff: active.subarray(nF, nF + nA),
    fbins: active.subarray(2 * nF, 2 * nF + nA),
  };
  zeroHistogram(inp, d.scratch);
  accumulate(inp, ctrl[1]!, ctrl[2]!, d.scratch);
  Atomics.store(ctrl, 0, DONE);
  Atomics.notify(ctrl, 0);
}
