import { describe, expect, it } from 'vitest';
import { fromLiveJson, toLiveJson } from './json.js';
import { liveAt, LiveState } from './live-state.js';

const HOUR = 3_600_000;
const MIN = 60_000;
// Monday 2026-11-30 12:00 in Paris (UTC+1): hour of week 12.
const MONDAY_NOON = Date.parse('2026-11-30T12:00:00+01:00');
const TZ = 'Europe/Paris';

const make = (): LiveState => new LiveState({ alpha: 0.5, kitchenOrderTtlMs: 3 * HOUR });

describe('LiveState', () => {
  it('counts orders in the kitchen until ready or cancelled', () => {
    const live = make();
    live.orderAccepted('s1', 'o1', MONDAY_NOON);
    live.orderAccepted('s1', 'o2', MONDAY_NOON);
    live.orderAccepted('s1', 'o2', MONDAY_NOON + MIN); // a replayed event
    live.orderAccepted('s2', 'o3', MONDAY_NOON);
    expect(live.get('s1', MONDAY_NOON, TZ).ordersInKitchen).toBe(2);
    live.orderCancelled('s1', 'o1');
    expect(live.orderReady('s1', 'o2', MONDAY_NOON + 10 * MIN)).toBe(600);
    expect(live.get('s1', MONDAY_NOON + 10 * MIN, TZ)).toEqual({ ordersInKitchen: 0, prepEwmaSeconds: 600 });
    expect(live.get('unknown', MONDAY_NOON, TZ)).toEqual({ ordersInKitchen: 0, prepEwmaSeconds: null });
  });

  it('keeps an EWMA per hour of week in the store timezone', () => {
    const live = make();
    live.orderAccepted('s1', 'a', MONDAY_NOON);
    live.orderReady('s1', 'a', MONDAY_NOON + 10 * MIN, TZ); // 600 s
    live.orderAccepted('s1', 'b', MONDAY_NOON + 5 * MIN);
    live.orderReady('s1', 'b', MONDAY_NOON + 25 * MIN, TZ); // 1200 s -> 600 + 0.5 * 600
    expect(live.get('s1', MONDAY_NOON + 30 * MIN, TZ).prepEwmaSeconds).toBe(900);
    // The same instant is 11:00 UTC: another slot in UTC, so only the fallbacks answer.
    live.seed('s1', 11, 300);
    expect(live.get('s1', MONDAY_NOON, 'UTC').prepEwmaSeconds).toBe(300);
  });

  it('counts a prep time in the hour its order was accepted', () => {
    const live = make();
    live.orderAccepted('s1', 'a', MONDAY_NOON + 50 * MIN);
    live.orderReady('s1', 'a', MONDAY_NOON + 70 * MIN, TZ);
    live.seed('s1', 13, 2000);
    expect(live.get('s1', MONDAY_NOON, TZ).prepEwmaSeconds).toBe(1200);
  });

  it('falls back to the nearest hours, then the overall EWMA, then null', () => {
    const live = make();
    live.seed('s1', 11, 600);
    live.seed('s1', 13, 800);
    expect(live.get('s1', MONDAY_NOON, TZ).prepEwmaSeconds).toBe(700); // both neighbours
    expect(live.get('s1', MONDAY_NOON + 2 * HOUR, TZ).prepEwmaSeconds).toBe(800); // 14:00 -> 13:00
    const overall = live.get('s1', MONDAY_NOON + 24 * HOUR, TZ).prepEwmaSeconds; // Tuesday: far away
    expect(overall).toBe(700); // 600, then 600 + 0.5 * (800 - 600)
    // Sunday 23:00 is next to Monday 00:00: the week wraps.
    live.seed('s2', 0, 500);
    expect(live.get('s2', Date.parse('2026-11-29T23:30:00+01:00'), TZ).prepEwmaSeconds).toBe(500);
    expect(live.get('s3', MONDAY_NOON, TZ).prepEwmaSeconds).toBeNull();
  });

  it('uses the timezone resolver when an event does not carry one', () => {
    const live = new LiveState({ alpha: 0.5, kitchenOrderTtlMs: 3 * HOUR, timezoneOf: () => 'Asia/Tokyo' });
    live.orderAccepted('s1', 'a', MONDAY_NOON); // 20:00 in Tokyo: hour of week 20
    live.orderReady('s1', 'a', MONDAY_NOON + 5 * MIN);
    expect(live.get('s1', MONDAY_NOON, 'Asia/Tokyo').prepEwmaSeconds).toBe(300);
  });

  it('ignores unknown, inconsistent and expired orders', () => {
    const live = make();
    expect(live.orderReady('s1', 'never-accepted', MONDAY_NOON)).toBeNull();
    live.orderAccepted('s1', 'late', MONDAY_NOON);
    expect(live.orderReady('s1', 'late', MONDAY_NOON - MIN)).toBeNull();
    live.orderAccepted('s1', 'stale', MONDAY_NOON);
    expect(live.get('s1', MONDAY_NOON + 3 * HOUR + 1, TZ).ordersInKitchen).toBe(0);
    expect(live.orderReady('s1', 'stale', MONDAY_NOON + 4 * HOUR)).toBeNull();
    expect(live.get('s1', MONDAY_NOON, TZ).prepEwmaSeconds).toBeNull();
  });

  it('bounds memory: sweeps expired orders and caps each kitchen', () => {
    const live = new LiveState({ alpha: 0.5, kitchenOrderTtlMs: 3 * HOUR, maxOrdersPerStore: 3 });
    for (let i = 0; i < 5; i++) live.orderAccepted('s1', `o${i}`, MONDAY_NOON + i);
    expect(live.get('s1', MONDAY_NOON, TZ).ordersInKitchen).toBe(3);
    expect(live.orderReady('s1', 'o0', MONDAY_NOON + MIN)).toBeNull(); // dropped, the oldest
    live.orderAccepted('s2', 'x', MONDAY_NOON);
    expect(live.size).toBe(2);
    expect(live.sweep(MONDAY_NOON + 4 * HOUR)).toBe(4);
    expect(live.size).toBe(0);
  });

  it('refuses seeds out of range', () => {
    const live = make();
    expect(() => live.seed('s1', 168, 600)).toThrow(RangeError);
    expect(() => live.seed('s1', 3, -1)).toThrow(RangeError);
  });

  it('reports every change of what it answers, and no repeat or unknown event', () => {
    const changed: string[] = [];
    const live = new LiveState({
      alpha: 0.5,
      kitchenOrderTtlMs: 3 * HOUR,
      onChange: (id) => changed.push(id),
    });
    live.orderAccepted('s1', 'a', MONDAY_NOON);
    live.orderAccepted('s1', 'a', MONDAY_NOON + MIN); // replayed
    live.orderReady('s1', 'a', MONDAY_NOON + 10 * MIN, TZ);
    live.orderReady('s1', 'a', MONDAY_NOON + 11 * MIN, TZ); // its pickup, after ready
    live.orderCancelled('s1', 'a'); // its delivery
    live.orderCancelled('s2', 'never');
    expect(changed).toEqual(['s1', 's1']);
    // An order left in the kitchen (its ready event lost) stops counting with time alone; the sweep says so.
    live.orderAccepted('s2', 'lost', MONDAY_NOON);
    live.orderAccepted('s3', 'fresh', MONDAY_NOON + 2 * HOUR);
    changed.length = 0;
    live.sweep(MONDAY_NOON + 3 * HOUR + MIN);
    expect(changed).toEqual(['s2']);
    live.seed('s3', 12, 600);
    live.forget('s3');
    live.forget('s3');
    expect(changed).toEqual(['s2', 's3', 's3']);
  });

  it('answers from one snapshot what it answers for any order time, also once the snapshot crossed the wire', () => {
    const live = make();
    // Prep times with fractions float32 rounds, at a few hours of the week; orders in the kitchen over two hours.
    for (const [hour, seconds] of [
      [12, 612.34],
      [13, 1000.1],
      [40, 333.3],
    ] as const) {
      live.seed('s1', hour, seconds);
    }
    for (let i = 0; i < 5; i++) live.orderAccepted('s1', `o${i}`, MONDAY_NOON + i * 30 * MIN);
    const snapshot = live.snapshot('s1');
    const wire = fromLiveJson(JSON.parse(JSON.stringify(toLiveJson(snapshot))));
    for (let t = MONDAY_NOON - 6 * HOUR; t < MONDAY_NOON + 2 * 24 * HOUR; t += 20 * MIN) {
      for (const tz of [TZ, 'UTC', 'Asia/Kolkata']) {
        const expected = live.get('s1', t, tz);
        expect(liveAt(snapshot, t, tz)).toEqual(expected);
        expect(liveAt(wire, t, tz)).toEqual(expected);
      }
    }
    // Taken now, it does not move with later events; a store never heard of has an empty one.
    live.orderAccepted('s1', 'later', MONDAY_NOON);
    live.seed('s1', 12, 100);
    expect(liveAt(snapshot, MONDAY_NOON, TZ)).toEqual({
      ordersInKitchen: 5,
      prepEwmaSeconds: Math.fround(612.34),
    });
    expect(liveAt(live.snapshot('unknown'), MONDAY_NOON, TZ)).toEqual({
      ordersInKitchen: 0,
      prepEwmaSeconds: null,
    });
    expect(() => fromLiveJson({ ...toLiveJson(snapshot), prep_ewma_slots: 'AAAA' })).toThrow(/not 672/);
  });
});
