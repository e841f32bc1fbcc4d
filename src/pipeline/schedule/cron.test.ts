import { describe, expect, it } from 'vitest';
import { CronExpression } from './cron.js';

const at = (s: string): number => Date.parse(s);
const next = (expr: string, from: string): string =>
  new Date(CronExpression.parse(expr).next(at(from))).toISOString();

describe('CronExpression', () => {
  it('fires every five minutes, daily at a time, and on weekdays', () => {
    expect(next('*/5 * * * *', '2026-01-05T10:02:30Z')).toBe('2026-01-05T10:05:00.000Z');
    expect(next('*/5 * * * *', '2026-01-05T10:05:00Z')).toBe('2026-01-05T10:10:00.000Z');
    expect(next('30 3 * * *', '2026-01-05T10:00:00Z')).toBe('2026-01-06T03:30:00.000Z');
    // 2026-01-09 is a Friday: the next weekday run is Monday
    expect(next('0 9 * * 1-5', '2026-01-09T10:00:00Z')).toBe('2026-01-12T09:00:00.000Z');
    expect(next('0 0 1 * *', '2026-01-31T00:00:00Z')).toBe('2026-02-01T00:00:00.000Z');
    expect(next('0 12 * * 7', '2026-01-05T00:00:00Z')).toBe('2026-01-11T12:00:00.000Z');
  });

  it('refuses malformed expressions with the field at fault', () => {
    expect(() => CronExpression.parse('* * * *')).toThrow(/5 fields/);
    expect(() => CronExpression.parse('61 * * * *')).toThrow(/minute/);
    expect(() => CronExpression.parse('* * * * mon')).toThrow(/day-of-week/);
  });
});
