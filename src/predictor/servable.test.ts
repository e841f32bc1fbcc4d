import { describe, expect, it } from 'vitest';
import { fromTheRide, implausible, prepPlusRide } from './servable.js';

describe('what an ETA may say about the ride', () => {
  it('refuses a median below the ride alone, or no number, and nothing else', () => {
    expect(implausible({ p10: -897, p50: 512, p90: 630 }, 570)).toBe(true);
    expect(implausible({ p10: 100, p50: Number.NaN, p90: 900 }, 570)).toBe(true);
    expect(implausible({ p10: 400, p50: 570, p90: 900 }, 570)).toBe(false);
    // A low end below zero around a sound median is a range to mend, not a model to refuse.
    expect(implausible({ p10: -195, p50: 1863, p90: 5208 }, 813)).toBe(false);
  });

  it('starts every range no earlier than the ride ends, keeping p10 <= p50 <= p90', () => {
    expect(fromTheRide({ p10: -195, p50: 1863, p90: 5208 }, 813)).toEqual({ p10: 813, p50: 1863, p90: 5208 });
    const sound = { p10: 1200, p50: 1863, p90: 2942 };
    expect(fromTheRide(sound, 813)).toBe(sound);
    for (const prep of [0, 30, 300, 1200])
      for (const travel of [150, 570, 1800]) {
        const r = prepPlusRide(
          { prepEwmaSeconds: null, prepMeanSeconds: prep, prepP90Seconds: prep * 1.5 },
          travel,
        );
        expect(r.p50).toBe(prep + travel);
        expect(r.p10).toBeGreaterThanOrEqual(travel);
        expect(r.p10).toBeLessThanOrEqual(r.p50);
        expect(r.p90).toBeGreaterThanOrEqual(r.p50);
        expect(implausible(r, travel)).toBe(false);
      }
  });
});
