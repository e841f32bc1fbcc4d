import { describe, expect, it } from 'vitest';
import { synthetic } from '../../../test/fixtures/model/synthetic.js';
import { train } from '../index.js';

describe('two threads', () => {
  // Large enough that each tree level is built on both threads (see PARALLEL_WORK).
  const data = synthetic(30_000, 21);

  it.each([
    { name: 'depth-wise, every feature', growth: 'depthwise' as const, colsample: 1 },
    { name: 'depth-wise, sampled features', growth: 'depthwise' as const, colsample: 0.6 },
    { name: 'leaf-wise', growth: 'leafwise' as const, colsample: 1, maxLeaves: 24 },
  ])('build the same trees as one thread: $name', async (shape) => {
    const p = {
      nTrees: 4,
      maxDepth: 5,
      growth: shape.growth,
      colsample: shape.colsample,
      maxLeaves: shape.maxLeaves,
    };
    const one = await train(data, undefined, { ...p, threads: 1 });
    const two = await train(data, undefined, { ...p, threads: 2 });
    expect(two.params.threads).toBe(2);
    expect(one.trees.length).toBe(4);
    expect(JSON.stringify(two.trees)).toBe(JSON.stringify(one.trees));
  });
});
