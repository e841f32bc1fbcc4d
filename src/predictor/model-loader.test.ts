import { describe, expect, it } from 'vitest';
import { ModelLoader } from './model-loader.js';

describe('the model loader thread', () => {
  it('ends when idle and starts again for the next load', async () => {
    const loader = new ModelLoader(50);
    try {
      const request = { source: { kind: 'json' as const, json: { nope: true } }, expectFeatures: null };
      const first = await loader.load({ ...request, warmupRows: 1, probeRows: 1 });
      expect(first.ok).toBe(false);
      expect(loader.running).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(loader.running).toBe(false);
      // A fresh thread answers the next load; the ended one fails nothing.
      const second = await loader.load({ ...request, warmupRows: 1, probeRows: 1 });
      expect(second.ok).toBe(false);
      expect(second.ok === false && second.refused).toBe(true);
    } finally {
      await loader.close();
    }
  }, 30_000);
});
