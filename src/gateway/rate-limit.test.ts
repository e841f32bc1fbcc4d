import { describe, expect, it } from 'vitest';
import { LocalRateLimiter } from './rate-limit.js';

describe('LocalRateLimiter', () => {
  it('admits the rate, refuses the excess with a wait, and refills over time', () => {
    const limiter = new LocalRateLimiter();
    const admitted = Array.from({ length: 15 }, () => limiter.take('k', 10, 0)).filter((w) => w === 0).length;
    expect(admitted).toBe(10);
    expect(limiter.take('k', 10, 0)).toBeGreaterThan(0);
    expect(limiter.take('k', 10, 500)).toBe(0);
    expect(limiter.take('other', 10, 0)).toBe(0);
  });
});
