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

  it('writes every offset as ±HH:MM, historical local mean time included, naming the exact instant', () => {
    const cases: Array<[number, string, string]> = [
      // Paris kept local mean time (+00:09:21) until 1911: the offset is rounded to a whole minute.
      [Date.UTC(1900, 10, 26, 18, 33, 0), 'Europe/Paris', '1900-11-26T18:42:00+00:09'],
      [Date.UTC(1900, 0, 1, 12, 0, 0), 'Africa/Monrovia', '1900-01-01T11:17:00-00:43'],
      [Date.UTC(1900, 0, 1, 12, 0, 0), 'Asia/Kolkata', '1900-01-01T17:21:00+05:21'],
      [Date.UTC(1890, 0, 1, 12, 0, 0), 'America/New_York', '1890-01-01T07:00:00-05:00'],
      [Date.UTC(2026, 10, 26, 18, 0, 0), 'Asia/Kathmandu', '2026-11-26T23:45:00+05:45'],
      [Date.UTC(2026, 10, 26, 18, 0, 0), 'America/St_Johns', '2026-11-26T14:30:00-03:30'],
      [Date.UTC(2026, 2, 29, 1, 0, 0), 'Europe/Paris', '2026-03-29T03:00:00+02:00'],
    ];
    for (const [at, zone, text] of cases) {
      expect(isoInTimezone(at, zone), zone).toBe(text);
      expect(Date.parse(text), zone).toBe(at);
    }
    // Instants that are not whole minutes, in an offset that is not one either, stay exact.
    for (const zone of ['Europe/Paris', 'Africa/Monrovia', 'Pacific/Apia', 'UTC', 'Australia/Eucla']) {
      for (const year of [1880, 1900, 1925, 1970, 2026]) {
        const at = Date.UTC(year, 5, 15, 9, 7, 31, 250);
        const text = isoInTimezone(at, zone);
        expect(text, `${zone} ${year}`).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?[+-]\d\d:\d\d$/);
        expect(Date.parse(text), `${zone} ${year}`).toBe(at);
      }
    }
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
