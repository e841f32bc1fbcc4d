import { describe, expect, it } from 'vitest';
import { lateColour, mainZone, zoneInputIso, zoneInputValue, zoneTime } from './format';

describe('store times on the store’s clock', () => {
  it('names the zone and shows the wall time there, whatever the machine’s zone', () => {
    const now = new Date('2026-07-01T10:00:00Z');
    expect(zoneTime('2026-07-01T17:42:00Z', 'Europe/Paris', now)).toBe('19:42 Europe/Paris');
    expect(zoneTime('2026-07-01T17:42:00Z', 'America/New_York', now)).toBe('13:42 America/New_York');
    // Another day on that clock carries its date.
    expect(zoneTime('2026-07-02T17:42:00Z', 'Europe/Paris', now)).toBe('2026-07-02 19:42 Europe/Paris');
  });

  it('reads an order time typed on a zone’s clock, in summer and in winter', () => {
    expect(zoneInputIso('2026-07-01T19:30', 'Europe/Paris')).toBe('2026-07-01T17:30:00.000Z');
    expect(zoneInputIso('2026-01-15T19:30', 'Europe/Paris')).toBe('2026-01-15T18:30:00.000Z');
    expect(zoneInputIso('2026-01-15T19:30', 'America/New_York')).toBe('2026-01-16T00:30:00.000Z');
    expect(zoneInputIso('', 'Europe/Paris')).toBeUndefined();
    // Round trip through the input's value.
    const at = new Date('2026-03-29T08:15:00Z');
    expect(zoneInputIso(zoneInputValue(at, 'Europe/Paris'), 'Europe/Paris')).toBe(at.toISOString());
  });

  it('takes the zone most stores are in for times that concern several', () => {
    expect(mainZone([{ timezone: 'Europe/Paris' }, { timezone: 'UTC' }, { timezone: 'Europe/Paris' }])).toBe(
      'Europe/Paris',
    );
    expect(mainZone([])).toBe('UTC');
  });
});

describe('the colour of P(late)', () => {
  it('goes from green through amber at the alert threshold to red', () => {
    expect(lateColour(0)).toBe('hsl(140 75% 42%)');
    expect(lateColour(0.5)).toBe('hsl(38 75% 42%)');
    expect(lateColour(1)).toBe('hsl(0 75% 42%)');
    const hue = (p: number): number => Number(/hsl\((\d+)/.exec(lateColour(p))![1]);
    for (let p = 0; p < 1; p += 0.05) expect(hue(p + 0.05)).toBeLessThanOrEqual(hue(p));
    // Out of range or missing: clamped, never a broken colour.
    expect(lateColour(1.2)).toBe(lateColour(1));
    expect(lateColour(Number.NaN)).toBe(lateColour(0));
  });
});
