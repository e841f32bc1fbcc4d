import { describe, expect, it } from 'vitest';
import { resolveTargets } from './modules.js';

describe('resolveTargets', () => {
  it('pulls in dependencies first', () => {
    expect(resolveTargets(['predictor'])).toEqual(['store', 'geo', 'predictor']);
    expect(resolveTargets(['all'])).toEqual(['store', 'geo', 'predictor', 'orders', 'pipeline', 'gateway']);
  });

  it('leaves out dependencies reached over HTTP', () => {
    expect(resolveTargets(['predictor'], new Set(['store', 'geo']))).toEqual(['predictor']);
    expect(resolveTargets(['gateway'], new Set(['store', 'geo', 'predictor']))).toEqual(['gateway']);
  });

  it('runs an explicitly named module even when a URL for it exists', () => {
    expect(resolveTargets(['store'], new Set(['store']))).toEqual(['store']);
  });

  it('refuses unknown targets', () => {
    expect(() => resolveTargets(['predicter'])).toThrow('unknown target predicter');
  });
});
