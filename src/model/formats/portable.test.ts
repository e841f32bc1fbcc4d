import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { rowOf, synthetic } from '../../../test/fixtures/model/synthetic.js';
import {
  compileModel,
  loadModel,
  modelFromPortable,
  portableBuffers,
  train,
  type PortableModel,
} from '../index.js';

describe('a portable model', () => {
  it('crosses a thread boundary with its arrays moved, not copied, and predicts and explains as loadModel', async () => {
    const data = synthetic(3000, 11);
    const artifact = await train(data, undefined, {
      objective: 'quantile',
      quantiles: [0.1, 0.5, 0.9],
      nTrees: 20,
      maxDepth: 4,
    });
    const compiled = compileModel(artifact);
    if (!compiled.ok) throw compiled.error;
    const { portable } = compiled.value;
    const buffers = portableBuffers(portable);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<PortableModel>((resolve) => port2.once('message', resolve));
    port1.postMessage(portable, buffers);
    const model = modelFromPortable(await received, () => artifact);
    port1.close();
    // Moved: every array the sender held, nested ones included, is detached now (none was copied).
    const arrays: ArrayBufferView[] = [];
    const collect = (v: unknown): void => {
      if (ArrayBuffer.isView(v)) arrays.push(v);
      else if (typeof v === 'object' && v !== null) Object.values(v).forEach(collect);
    };
    collect(portable.compiled);
    expect(arrays.length).toBeGreaterThan(5);
    expect(arrays.filter((a) => a.byteLength > 0)).toEqual([]);
    expect(buffers.every((b) => b.byteLength === 0)).toBe(true);

    const loaded = loadModel(artifact);
    if (!loaded.ok) throw loaded.error;
    const reference = loaded.value;
    expect(model.outputNames).toEqual(['p10', 'p50', 'p90']);
    const rows = new Float64Array(50 * 3);
    for (let r = 0; r < 50; r++) rows.set(rowOf(data, r), r * 3);
    const got = new Float64Array(50 * 3);
    const want = new Float64Array(50 * 3);
    model.predictBatch(rows, 50, got);
    reference.predictBatch(rows, 50, want);
    expect([...got]).toEqual([...want]);
    expect([...model.contributions(rows.subarray(0, 3), 1)]).toEqual([
      ...reference.contributions(rows.subarray(0, 3), 1),
    ]);
    expect(model.importance('gain')).toEqual(reference.importance('gain'));
  });

  it('is refused with the reasons loadModel gives', () => {
    const refused = compileModel({ format: 'etaserve-gbdt', formatVersion: 1, spec: 'x' });
    expect(refused.ok).toBe(false);
    const reference = loadModel({ format: 'etaserve-gbdt', formatVersion: 1, spec: 'x' });
    expect(!refused.ok && refused.error.message).toBe(!reference.ok && reference.error.message);
    expect(compileModel([1, 2]).ok).toBe(false);
  });
});
