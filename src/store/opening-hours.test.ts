import { describe, expect, it } from 'vitest';
import { formatWithOffset, isOpen, localToEpochMs, nextOpening } from './opening-hours.js';
import type { OpeningHours } from './types.js';

const at = (iso: string): number => Date.parse(iso);
const paris = (openingHours: OpeningHours) => ({ openingHours, timezone: 'Europe/Paris' });

describe('opening hours', () => {
  // 2026-11-26 is a Thursday; Paris is UTC+1 in November.
  const store = paris({
    thu: [
      ['11:00', '14:30'],
      ['18:00', '02:00'],
    ],
    fri: [['12:00', '14:00']],
  });

  it.each([
    ['2026-11-26T10:59:59+01:00', false],
    ['2026-11-26T11:00:00+01:00', true],
    ['2026-11-26T14:29:00+01:00', true],
    ['2026-11-26T14:30:00+01:00', false],
    ['2026-11-26T23:00:00+01:00', true],
    ['2026-11-27T01:59:00+01:00', true],
    ['2026-11-27T02:00:00+01:00', false],
    ['2026-11-25T23:00:00+01:00', false],
  ])('at %s open is %s', (when, open) => {
    expect(isOpen(store, at(when))).toBe(open);
  });

  it.each([
    ['2026-11-26T10:00:00+01:00', '2026-11-26T11:00:00+01:00'],
    ['2026-11-26T15:00:00+01:00', '2026-11-26T18:00:00+01:00'],
    ['2026-11-27T03:00:00+01:00', '2026-11-27T12:00:00+01:00'],
    ['2026-11-27T14:00:00+01:00', '2026-12-03T11:00:00+01:00'],
    ['2026-11-26T12:00:00+01:00', null],
  ])('from %s the next opening is %s', (when, next) => {
    expect(nextOpening(store, at(when))).toBe(next);
  });

  it('runs an overnight interval across the end of the week', () => {
    const late = paris({ sun: [['22:00', '03:00']] });
    expect(isOpen(late, at('2026-11-30T01:00:00+01:00'))).toBe(true); // Monday 01:00
    expect(isOpen(late, at('2026-11-30T03:00:00+01:00'))).toBe(false);
    expect(nextOpening(late, at('2026-11-30T03:00:00+01:00'))).toBe('2026-12-06T22:00:00+01:00');
  });

  it('opens again a week later when it opens only on this weekday', () => {
    const mondays = paris({ mon: [['09:00', '17:00']] });
    expect(nextOpening(mondays, at('2026-11-30T18:00:00+01:00'))).toBe('2026-12-07T09:00:00+01:00');
  });

  it('is open 24/7 with {} and never with only empty days', () => {
    expect(isOpen(paris({}), at('2026-11-26T04:00:00+01:00'))).toBe(true);
    expect(nextOpening(paris({}), at('2026-11-26T04:00:00+01:00'))).toBeNull();
    const never = paris({ mon: [] });
    expect(isOpen(never, at('2026-11-30T12:00:00+01:00'))).toBe(false);
    expect(nextOpening(never, at('2026-11-30T12:00:00+01:00'))).toBeNull();
  });

  it('treats 00:00-24:00 as the whole day', () => {
    const allSunday = paris({ sun: [['00:00', '24:00']] });
    expect(isOpen(allSunday, at('2026-11-29T00:00:00+01:00'))).toBe(true);
    expect(isOpen(allSunday, at('2026-11-29T23:59:59+01:00'))).toBe(true);
    expect(isOpen(allSunday, at('2026-11-30T00:00:00+01:00'))).toBe(false);
  });

  it('uses the store timezone and its offset', () => {
    const ny = { openingHours: { thu: [['11:00', '22:00']] } as OpeningHours, timezone: 'America/New_York' };
    // 15:00 UTC is 10:00 in New York.
    expect(isOpen(ny, at('2026-11-26T15:00:00Z'))).toBe(false);
    expect(nextOpening(ny, at('2026-11-26T15:00:00Z'))).toBe('2026-11-26T11:00:00-05:00');
    const kolkata = { openingHours: { thu: [['11:00', '22:00']] } as OpeningHours, timezone: 'Asia/Kolkata' };
    expect(nextOpening(kolkata, at('2026-11-26T00:00:00Z'))).toBe('2026-11-26T11:00:00+05:30');
  });

  describe('across DST', () => {
    // Paris: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
    const night = paris({ sun: [['02:30', '05:00']] });

    it('opens at the end of the gap when the opening time does not exist', () => {
      expect(nextOpening(night, at('2026-03-29T01:30:00+01:00'))).toBe('2026-03-29T03:00:00+02:00');
      expect(isOpen(night, at('2026-03-29T03:10:00+02:00'))).toBe(true);
    });

    it('opens at the first of two 02:30s when the clock goes back', () => {
      expect(nextOpening(night, at('2026-10-25T02:00:00+02:00'))).toBe('2026-10-25T02:30:00+02:00');
    });

    it('keeps the wall clock on the days after a change', () => {
      const noon = paris({ mon: [['12:00', '13:00']] });
      expect(nextOpening(noon, at('2026-03-28T12:00:00+01:00'))).toBe('2026-03-30T12:00:00+02:00');
    });
  });

  it('converts local wall-clock times to instants', () => {
    expect(localToEpochMs('Europe/Paris', Date.UTC(2026, 10, 26, 11, 0))).toBe(at('2026-11-26T10:00:00Z'));
    expect(formatWithOffset('UTC', at('2026-01-02T03:04:05Z'))).toBe('2026-01-02T03:04:05+00:00');
  });
});

describe('overnight hours (a close before the open)', () => {
  // A late-night kitchen: ["23:00", "11:00"] on Monday is Monday 23:00 to Tuesday 11:00, and only that.
  const late = paris({ mon: [['23:00', '11:00']] });

  it.each([
    ['2026-11-30T22:59:00+01:00', false], // Monday, before it opens
    ['2026-11-30T23:00:00+01:00', true],
    ['2026-12-01T03:00:00+01:00', true], // Tuesday, small hours
    ['2026-12-01T10:59:00+01:00', true],
    ['2026-12-01T11:00:00+01:00', false],
    ['2026-12-01T23:30:00+01:00', false], // Tuesday night: the interval belongs to Monday only
    ['2026-11-30T03:00:00+01:00', false], // Monday small hours: Sunday has no hours
  ])('at %s open is %s', (when, open) => {
    expect(isOpen(late, at(when))).toBe(open);
  });

  it('opens next on Monday 23:00, a week on once it has closed', () => {
    expect(nextOpening(late, at('2026-11-30T12:00:00+01:00'))).toBe('2026-11-30T23:00:00+01:00');
    expect(nextOpening(late, at('2026-12-01T11:00:00+01:00'))).toBe('2026-12-07T23:00:00+01:00');
    expect(nextOpening(late, at('2026-12-01T05:00:00+01:00'))).toBeNull();
  });

  it("adds to the next day's own hours", () => {
    const both = paris({ mon: [['23:00', '11:00']], tue: [['10:00', '14:00']] });
    expect(isOpen(both, at('2026-12-01T12:00:00+01:00'))).toBe(true);
    expect(isOpen(both, at('2026-12-01T14:00:00+01:00'))).toBe(false);
    expect(nextOpening(both, at('2026-12-01T15:00:00+01:00'))).toBe('2026-12-07T23:00:00+01:00');
  });
});
