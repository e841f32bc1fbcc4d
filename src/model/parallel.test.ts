import { describe, expect, it } from 'vitest';
import { synthetic } from '../../test/fixtures/model/synthetic.js';
import { train } from './index.js';

describe('two threads', () => {
  it('build the same trees as one thread', async () => {
    // Large enough that nodes are built as two halves (see CHUNKED_ROWS).
    const data = synthetic(30_000, 21);
    const p = { nTrees: 4, maxDepth: 5 };
    const one = await train(data, undefined, { ...p, threads: 1 });
    const two = await train(data, undefined, { ...p, threads: 2 });
    expect(two.params.threads).toBe(2);
    expect(JSON.stringify(two.trees)).toBe(JSON.stringify(one.trees));
  });
});
