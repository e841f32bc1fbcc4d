import { describe, expect, it } from 'vitest';
import { parseStore, parseStorePatch, validateStore } from './validate.js';

const good = {
  store_id: 's-001',
  name: 'Pizza Roma',
  location: { lat: 48.86, lng: 2.35 },
  category: 'pizza',
  timezone: 'Europe/Paris',
  opening_hours: {
    mon: [
      ['11:00', '14:30'],
      ['18:00', '02:00'],
    ],
    sun: [['00:00', '24:00']],
  },
  delivery_radius_km: 5,
  prep_profile: { mean_seconds: 600, p90_seconds: 900 },
};

const fieldsOf = (input: unknown): string[] => {
  const r = parseStore(input);
  return r.ok ? [] : r.error.map((i) => i.field);
};

describe('parseStore', () => {
  it('turns the API shape into a NewStore', () => {
    const r = parseStore(good);
    expect(r).toEqual({
      ok: true,
      value: {
        storeId: 's-001',
        name: 'Pizza Roma',
        location: { lat: 48.86, lng: 2.35 },
        category: 'pizza',
        timezone: 'Europe/Paris',
        openingHours: good.opening_hours,
        deliveryRadiusKm: 5,
        prepProfile: { meanSeconds: 600, p90Seconds: 900 },
      },
    });
  });

  it('treats missing opening hours as {} (open 24/7)', () => {
    const { opening_hours: _, ...rest } = good;
    const r = parseStore(rest);
    expect(r.ok && r.value.openingHours).toEqual({});
  });

  it.each([
    [{ store_id: '' }, 'store_id'],
    [{ store_id: 'has space' }, 'store_id'],
    [{ store_id: 'x'.repeat(65) }, 'store_id'],
    [{ store_id: 42 }, 'store_id'],
    [{ location: { lat: 91, lng: 0 } }, 'location.lat'],
    [{ location: { lat: 0, lng: -180.5 } }, 'location.lng'],
    [{ location: { lat: Number.NaN, lng: 0 } }, 'location.lat'],
    [{ location: { lat: '48', lng: 2 } }, 'location.lat'],
    [{ location: undefined }, 'location'],
    [{ timezone: 'Mars/Olympus' }, 'timezone'],
    [{ delivery_radius_km: 0 }, 'delivery_radius_km'],
    [{ delivery_radius_km: 50.01 }, 'delivery_radius_km'],
    [{ delivery_radius_km: Number.POSITIVE_INFINITY }, 'delivery_radius_km'],
    [{ prep_profile: { mean_seconds: -1, p90_seconds: 900 } }, 'prep_profile.mean_seconds'],
    [{ prep_profile: { mean_seconds: 600, p90_seconds: 500 } }, 'prep_profile.p90_seconds'],
    [{ prep_profile: { mean_seconds: 600 } }, 'prep_profile.p90_seconds'],
    [{ opening_hours: { mon: [['9:00', '17:00']] } }, 'opening_hours.mon.0.0'],
    [{ opening_hours: { mon: [['09:00', '24:01']] } }, 'opening_hours.mon.0.1'],
    [{ opening_hours: { mon: [['24:00', '02:00']] } }, 'opening_hours.mon.0.0'],
    [{ opening_hours: { mon: [['10:00', '10:00']] } }, 'opening_hours.mon.0'],
    [{ opening_hours: { mon: [['10:00']] } }, 'opening_hours.mon.0'],
    [{ opening_hours: { monday: [] } }, 'opening_hours.monday'],
    [{ opening_hours: [] }, 'opening_hours'],
    [{ name: '  ' }, 'name'],
    [{ colour: 'red' }, 'colour'],
  ])('refuses %j naming %s', (change, field) => {
    expect(fieldsOf({ ...good, ...change })).toContain(field);
  });

  it('reports every bad field at once', () => {
    expect(fieldsOf({ ...good, store_id: '', location: { lat: 100, lng: 200 } })).toEqual([
      'store_id',
      'location.lat',
      'location.lng',
    ]);
  });

  it('refuses what is not an object', () => {
    expect(fieldsOf('a store')).toEqual(['body']);
    expect(fieldsOf(null)).toEqual(['body']);
  });

  it('accepts the boundaries', () => {
    expect(fieldsOf({ ...good, location: { lat: -90, lng: 180 }, delivery_radius_km: 50 })).toEqual([]);
    expect(
      fieldsOf({ ...good, store_id: 'A.b_c:d-1', prep_profile: { mean_seconds: 1, p90_seconds: 1 } }),
    ).toEqual([]);
    expect(fieldsOf({ ...good, opening_hours: { fri: [['22:00', '00:00']], sat: [] } })).toEqual([]);
  });
});

describe('parseStorePatch', () => {
  it('checks only the fields present', () => {
    expect(parseStorePatch({ delivery_radius_km: 7 }, 's-001')).toEqual({
      ok: true,
      value: { deliveryRadiusKm: 7 },
    });
    const bad = parseStorePatch({ timezone: 'Nowhere', store_id: 'other' }, 's-001');
    expect(bad.ok ? [] : bad.error.map((i) => i.field)).toEqual(['store_id', 'timezone']);
  });

  it('takes opening hours by day, null closing a day; not null for the whole week', () => {
    expect(parseStorePatch({ opening_hours: { mon: [['23:00', '11:00']], tue: null } }, 's-001')).toEqual({
      ok: true,
      value: { openingHours: { mon: [['23:00', '11:00']], tue: null } },
    });
    const whole = parseStorePatch({ opening_hours: null }, 's-001');
    expect(whole.ok ? [] : whole.error.map((i) => i.field)).toEqual(['opening_hours']);
    // A full store has no use for null days: a missing day already is closed.
    const full = parseStore({ ...good, opening_hours: { mon: null } });
    expect(full.ok ? [] : full.error.map((i) => i.field)).toEqual(['opening_hours.mon']);
  });
});

describe('validateStore', () => {
  it('applies the same rules to a typed store', () => {
    const r = parseStore(good);
    if (!r.ok) throw new Error('fixture');
    expect(validateStore(r.value)).toEqual([]);
    expect(validateStore({ ...r.value, prepProfile: { meanSeconds: 900, p90Seconds: 600 } })[0]?.field).toBe(
      'prep_profile.p90_seconds',
    );
  });
});
