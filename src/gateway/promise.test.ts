import { describe, expect, it } from 'vitest';
import type { EtaPrediction } from '../predictor/index.js';
import { isoInTimezone, promisedAt } from './promise.js';

const prediction = (p50: number, timezone: string): EtaPrediction => ({
  storeId: 's',
  p10: p50 - 300,
  p50,
  p90: p50 + 600,
  prepSeconds: 600,
  travelSeconds: 900,
  distanceKm: 3,
  timezone,
  modelVersion: 'v1',
  degraded: false,
  degradedReasons: [],
});

describe('promise policy', () => {
  it('writes times in the store timezone offset', () => {
    expect(isoInTimezone(Date.UTC(2026, 10, 26, 18, 0, 0), 'Europe/Paris')).toBe('2026-11-26T19:00:00+01:00');
    expect(isoInTimezone(Date.UTC(2026, 6, 1, 18, 0, 0), 'Europe/Paris')).toBe('2026-07-01T20:00:00+02:00');
    expect(isoInTimezone(Date.UTC(2026, 10, 26, 18, 0, 0), 'Asia/Kolkata')).toBe('2026-11-26T23:30:00+05:30');
  });

  it('adds the buffer to the chosen quantile and rounds up to whole minutes', () => {
    // 18:00:10 UTC + 27 min = 18:27:10, rounded up to 18:28 (19:28 in Paris).
    const ordered = Date.UTC(2026, 10, 26, 18, 0, 10);
    const p = prediction(1500, 'Europe/Paris');
    expect(
      promisedAt(ordered, p, { promiseQuantile: 'p50', promiseBufferSeconds: 120, promiseRoundMinutes: 1 }),
    ).toBe('2026-11-26T19:28:00+01:00');
    expect(
      promisedAt(ordered, p, { promiseQuantile: 'p90', promiseBufferSeconds: 0, promiseRoundMinutes: 5 }),
    ).toBe('2026-11-26T19:40:00+01:00');
  });
});
