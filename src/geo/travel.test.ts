import { latLngToCell } from 'h3-js';
import { describe, expect, it } from 'vitest';
import { hourBand, learnZoneSpeeds, TravelEstimator, ZoneSpeedTable, type ObservedTrip } from './travel.js';

const PARIS = { lat: 48.8566, lng: 2.3522 };
const OPTIONS = { detourFactor: 1.3, handoffSeconds: 150, resolution: 7, defaultSpeedKmh: 18 };
// Wednesday 2026-01-14 12:30 Paris (UTC+1)
const WED_LUNCH = Date.UTC(2026, 0, 14, 11, 30);
const WED_NIGHT = Date.UTC(2026, 0, 14, 2, 0);

function tripsAt(
  origin: { lat: number; lng: number },
  speedKmh: number,
  n: number,
  atMs: number,
): ObservedTrip[] {
  return Array.from({ length: n }, (_, i) => {
    const destination = { lat: origin.lat + 0.01 + i * 0.0005, lng: origin.lng + 0.01 };
    const est = new TravelEstimator(ZoneSpeedTable.defaults(speedKmh, 'Europe/Paris', 7), {
      detourFactor: 1.3,
      handoffSeconds: 150,
    });
    // defaults scale by band; undo that to get a trip at exactly speedKmh
    const dist = est.estimate(origin, destination, atMs).distanceKm * 1.3;
    return {
      origin,
      destination,
      departedAtMs: atMs + i * 1000,
      durationSeconds: 150 + (dist / speedKmh) * 3600,
      timezone: 'Europe/Paris',
    };
  });
}

describe('hourBand', () => {
  it('splits weekdays and weekends into parts of the day', () => {
    expect(hourBand(2, 12.5)).toBe(2);
    expect(hourBand(2, 3)).toBe(0);
    expect(hourBand(6, 20)).toBe(10);
  });
});

describe('TravelEstimator', () => {
  it('is slower at lunch than at night with default speeds, and adds the handoff', () => {
    const est = new TravelEstimator(ZoneSpeedTable.defaults(18, 'Europe/Paris', 7), {
      detourFactor: 1.3,
      handoffSeconds: 150,
    });
    const dest = { lat: 48.87, lng: 2.37 };
    const lunch = est.estimate(PARIS, dest, WED_LUNCH);
    const night = est.estimate(PARIS, dest, WED_NIGHT);
    expect(lunch.travelSeconds).toBeGreaterThan(night.travelSeconds);
    // The formula as training tables have always computed it, to the last bit.
    expect(lunch.travelSeconds).toBe(150 + ((lunch.distanceKm * 1.3) / lunch.zoneSpeedKmh) * 3600);
    expect(est.terms(PARIS, WED_LUNCH)).toEqual({
      handoffSeconds: 150,
      detourFactor: 1.3,
      zoneSpeedKmh: lunch.zoneSpeedKmh,
    });
    expect(est.estimate(PARIS, PARIS, WED_LUNCH).travelSeconds).toBe(150);
  });
});

describe('learnZoneSpeeds', () => {
  it('learns a zone speed, shrinks a sparse zone toward the global speed and round-trips through JSON', () => {
    const far = { lat: 48.95, lng: 2.5 };
    const trips = [...tripsAt(PARIS, 12, 200, WED_LUNCH), ...tripsAt(far, 30, 2, WED_LUNCH)];
    const json = learnZoneSpeeds(trips, OPTIONS);
    const table = ZoneSpeedTable.fromJSON(JSON.parse(JSON.stringify(json)));
    if (!table.ok) throw new Error(table.error);
    const band = hourBand(2, 12.5);
    const centre = table.value.speedKmh(latLngToCell(PARIS.lat, PARIS.lng, 7), band);
    const sparse = table.value.speedKmh(latLngToCell(far.lat, far.lng, 7), band);
    expect(centre).toBeCloseTo(12, 0);
    expect(sparse).toBeGreaterThan(12);
    expect(sparse).toBeLessThan(16);
    expect(json.trips).toBe(202);
  });

  it('ignores impossible trips and falls back to defaults when untrained', () => {
    const bad: ObservedTrip = {
      origin: PARIS,
      destination: { lat: 48.9, lng: 2.4 },
      departedAtMs: WED_LUNCH,
      durationSeconds: 10,
      timezone: 'Europe/Paris',
    };
    const json = learnZoneSpeeds([bad], OPTIONS);
    expect(json.trips).toBe(0);
    expect(json.global).toEqual(ZoneSpeedTable.defaults(18, 'Europe/Paris', 7).toJSON().global);
  });

  it('refuses a malformed table', () => {
    expect(
      ZoneSpeedTable.fromJSON({
        format: 'etaserve.zone-speeds',
        version: 1,
        resolution: 7,
        timezone: 'UTC',
        global: [1],
        zones: {},
      }).ok,
    ).toBe(false);
    expect(ZoneSpeedTable.fromJSON(null).ok).toBe(false);
  });
});
