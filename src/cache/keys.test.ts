import { Value } from 'typebox/value';
import { describe, expect, it, vi } from 'vitest';
import { cacheConfigSchema, type CacheConfig } from './config.js';
import {
  CacheKeys,
  geoTravelKey,
  MODELS_GENERATION,
  RESPONSE_TIME_BUCKET_MS,
  storeKey,
  storeLiveKey,
  timeBucket,
} from './keys.js';

// Three Paris destinations: A and B are 219 m apart in one res-8 cell (but two res-9 cells); C is 133 m from A
// across a res-8 cell boundary.
const A = { lat: 48.864, lng: 2.352 };
const B = { lat: 48.864, lng: 2.349 };
const C = { lat: 48.865, lng: 2.353 };
const AT = Date.UTC(2026, 10, 26, 18, 7, 30);

const keys = new CacheKeys();
const response = (destination: { lat: number; lng: number }, modelVersion = 'v7', atMs = AT): string =>
  keys.response({
    storeId: 's-1',
    destinationCell: keys.destinationCell(destination),
    atMs,
    basketBucket: '2-3/<30',
    modelVersion,
  });

describe('cache keys', () => {
  it('use H3 resolution 8 for destinations unless configured otherwise', () => {
    const config = Value.Default(cacheConfigSchema, {}) as CacheConfig;
    expect(config.destinationCellResolution).toBe(8);
    expect(keys.destinationResolution).toBe(8);
  });

  it('give two destinations in one res-8 cell the same response key', () => {
    expect(response(B)).toBe(response(A));
  });

  it('give destinations in different cells different keys, even close by', () => {
    expect(response(C)).not.toBe(response(A));
  });

  it('follow the configured resolution', () => {
    const fine = new CacheKeys(9);
    expect(fine.destinationCell(B)).not.toBe(fine.destinationCell(A));
    expect(() => new CacheKeys(16)).toThrow(/0-15/);
  });

  it('put the serving model version in the response key', () => {
    expect(response(A, 'v8')).not.toBe(response(A, 'v7'));
    expect(response(A, 'v7').endsWith(':v7')).toBe(true);
  });

  it('share a response within the quarter hour', () => {
    expect(response(A, 'v7', Date.UTC(2026, 10, 26, 18, 0))).toBe(response(A));
    expect(response(A, 'v7', Date.UTC(2026, 10, 26, 18, 14, 59, 999))).toBe(response(A));
    expect(response(A, 'v7', Date.UTC(2026, 10, 26, 17, 59, 59, 999))).not.toBe(response(A));
    expect(response(A, 'v7', Date.UTC(2026, 10, 26, 18, 15))).not.toBe(response(A));
  });

  it('never put two local hours or weekdays in one time bucket, in any timezone', () => {
    const zones = [
      'Asia/Kolkata',
      'Asia/Kathmandu',
      'America/St_Johns',
      'Australia/Eucla',
      'Europe/Paris',
      'UTC',
    ];
    const formats = new Map(
      zones.map((zone) => [
        zone,
        new Intl.DateTimeFormat('en-GB', {
          timeZone: zone,
          hour: 'numeric',
          weekday: 'short',
          hourCycle: 'h23',
        }),
      ]),
    );
    const local = (zone: string, atMs: number): string => formats.get(zone)!.format(atMs);
    const start = Date.UTC(2026, 2, 25); // across the European change to summer time
    for (let atMs = start; atMs < start + 7 * 86_400_000; atMs += 7 * 60_000 + 13_000) {
      const bucket = timeBucket(atMs, RESPONSE_TIME_BUCKET_MS);
      for (const zone of zones) expect(local(zone, atMs)).toBe(local(zone, bucket));
    }
  });

  it('keep parts apart and escape separators', () => {
    const cell = keys.destinationCell(A);
    const key = keys.response({
      storeId: 's:1',
      destinationCell: cell,
      atMs: AT,
      basketBucket: '2-3',
      modelVersion: 'v7',
    });
    expect(key).toBe(`s%3A1:${cell}:${Date.UTC(2026, 10, 26, 18, 0)}:2-3:v7`);
    expect(geoTravelKey('s:1', { lat: 48.85, lng: 2.33 })).toBe('t3:s%3A1:48.85,2.33');
    expect(storeKey('a:b')).not.toBe(storeKey('a'));
  });

  it('give a store one travel key where it is and one live-state key, whatever the destination and time', () => {
    const here = { lat: 48.85, lng: 2.33 };
    expect(geoTravelKey('s-1', here)).toBe(geoTravelKey('s-1', { ...here }));
    expect(geoTravelKey('s-1', here)).not.toBe(geoTravelKey('s-2', here));
    // A store that moved is a new entry: its zone, and so its speeds, may differ.
    expect(geoTravelKey('s-1', here)).not.toBe(geoTravelKey('s-1', { lat: 48.86, lng: 2.33 }));
    expect(storeLiveKey('s:1')).toBe('w1:s%3A1');
    expect(storeLiveKey('s:1')).not.toBe(storeLiveKey('s'));
  });

  it("move a store's response keys to a new generation when it changes, and no other store's", () => {
    const followed = new CacheKeys();
    const generations = new Map<string, number>();
    followed.followGenerations({ generation: (id) => generations.get(id) ?? 0 }, 5_000);
    const of = (storeId: string): string =>
      followed.response({
        storeId,
        destinationCell: followed.destinationCell(A),
        atMs: AT,
        basketBucket: '2-3/<30',
        modelVersion: 'v7',
      });
    const [one, two] = [of('s-1'), of('s-2')];
    expect(of('s-1')).toBe(one);
    generations.set('s-1', 1);
    expect(of('s-1')).not.toBe(one);
    expect(of('s-2')).toBe(two);
    // Another champion or challenger: every store's answers move.
    const [oneNow, twoNow] = [of('s-1'), of('s-2')];
    generations.set(MODELS_GENERATION, 1);
    expect(of('s-1')).not.toBe(oneNow);
    expect(of('s-2')).not.toBe(twoNow);
  });

  it('keep response keys for a few seconds only while generations are not known', () => {
    const followed = new CacheKeys();
    followed.followGenerations({ generation: () => undefined }, 5_000);
    const key = (): string =>
      followed.response({
        storeId: 's-1',
        destinationCell: followed.destinationCell(A),
        atMs: AT,
        basketBucket: '2-3/<30',
        modelVersion: 'v7',
      });
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.UTC(2026, 10, 26, 18, 7, 30));
      const first = key();
      vi.setSystemTime(Date.UTC(2026, 10, 26, 18, 7, 34, 999));
      expect(key()).toBe(first);
      vi.setSystemTime(Date.UTC(2026, 10, 26, 18, 7, 35));
      expect(key()).not.toBe(first);
    } finally {
      vi.useRealTimers();
    }
  });
});
