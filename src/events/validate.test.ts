import { describe, expect, it } from 'vitest';
import { EventValidator, MAX_EVENT_DEPTH } from './validate.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-06-15T12:00:00Z');

const rider = (occurredAt: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  event_id: `e-${occurredAt}`,
  type: 'rider.location',
  occurred_at: occurredAt,
  rider_id: 'r-1',
  lat: 48.85,
  lng: 2.35,
  ...extra,
});

describe('event times and shapes', () => {
  const validator = new EventValidator({
    maxEventBytes: 1 << 20,
    maxAppPayloadBytes: 1 << 20,
    maxFutureMs: 168 * HOUR,
    maxAgeMs: 168 * HOUR,
    now: () => NOW,
  });
  const verdict = (e: unknown): unknown => {
    const r = validator.validate(e);
    return r.ok ? 'ok' : { code: r.error.code, field: r.error.field };
  };

  it('refuses events dated outside [now - retention, now + maxFuture], naming occurred_at', () => {
    const refused = { code: 'bad_timestamp', field: 'occurred_at' };
    expect(verdict(rider('2026-06-15T11:59:00Z'))).toBe('ok');
    expect(verdict(rider('2026-06-09T13:00:00+01:00'))).toBe('ok');
    expect(verdict(rider('2026-06-22T11:00:00Z'))).toBe('ok');
    expect(verdict(rider('0001-01-01T00:00:00Z'))).toEqual(refused);
    expect(verdict(rider('3000-01-01T00:00:00Z'))).toEqual(refused);
    expect(verdict(rider('2026-06-08T11:00:00Z'))).toEqual(refused);
    expect(verdict(rider('2026-06-22T13:00:00Z'))).toEqual(refused);
  });

  it('without a retention, still refuses times before 1970', () => {
    const keepAll = new EventValidator({
      maxEventBytes: 4096,
      maxAppPayloadBytes: 512,
      maxAgeMs: 0,
      now: () => NOW,
    });
    expect(keepAll.validate(rider('2001-01-01T00:00:00Z')).ok).toBe(true);
    expect(keepAll.validate(rider('0001-01-01T00:00:00Z')).ok).toBe(false);
  });

  it('refuses deep nesting before anything recursive meets it, even when its size is not known', () => {
    let nested: unknown = 1;
    for (let i = 0; i < 100_000; i++) nested = { constructor: nested };
    expect(verdict(rider('2026-06-15T11:59:00Z', { extra: nested }))).toEqual({ code: 'too_deep' });
    let fine: unknown = 1;
    for (let i = 0; i < MAX_EVENT_DEPTH - 1; i++) fine = { a: fine };
    expect(verdict(rider('2026-06-15T11:59:00Z', { extra: fine }))).toBe('ok');
  });
});
