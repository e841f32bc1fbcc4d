import { describe, expect, it } from 'vitest';
import { BUCKETS, DedupeIndex, DURABLE, FRESH, SLOT_BYTES, type ShortenedWindow } from './dedupe.js';

const HOUR = 3_600_000;

describe('DedupeIndex', () => {
  it('remembers every id of a large window as it grows, and nothing it was not given', () => {
    const index = new DedupeIndex(24 * HOUR, 1_000_000);
    let first = 0;
    for (let i = 0; i < 200_000; i++) if (index.claim(`evt-${i}`, 1000) === FRESH) first++;
    expect(first).toBe(200_000);
    let duplicates = 0;
    for (let i = 0; i < 200_000; i++) if (index.claim(`evt-${i}`, 2000) === DURABLE) duplicates++;
    expect(duplicates).toBe(200_000);
    let fresh = 0;
    for (let i = 0; i < 200_000; i++) if (index.claim(`other-${i}`, 3000) === FRESH) fresh++;
    expect(fresh).toBe(200_000);
    expect(index.size).toBe(400_000);
  });

  it('is exact across the whole window and forgets an id by window + one bucket (simulated clock)', () => {
    const index = new DedupeIndex(HOUR, 10_000);
    const bucket = index.bucketMs;
    expect(bucket).toBe(HOUR / BUCKETS);
    expect(index.claim('a', 0)).toBe(FRESH);
    // Every moment of the window, up to and including its end, answers duplicate.
    for (let t = 1; t <= HOUR; t += 60_000) expect(index.claim('a', t)).toBe(DURABLE);
    expect(index.claim('a', HOUR)).toBe(DURABLE);
    // One bucket later the id is gone: it may come again.
    expect(index.claim('a', HOUR + bucket)).toBe(FRESH);
    expect(index.claim('a', 2 * HOUR)).toBe(DURABLE);
    index.expire(10 * HOUR);
    expect(index.size).toBe(0);
    expect(index.claim('a', 10 * HOUR)).toBe(FRESH);
  });

  it('holds 15 minutes at 20,000 events/s in its stated budget: bytes per id measured', () => {
    // 1/20 of the 18M ids, at the same rate: 45 s of traffic.
    const index = new DedupeIndex(15 * 60_000, 24_000_000);
    const n = 900_000;
    for (let i = 0; i < n; i++) index.claim(`evt-${i}`, Math.floor(i / 20));
    expect(index.size).toBe(n);
    const perId = index.bytes / n;
    expect(perId).toBeGreaterThanOrEqual(SLOT_BYTES);
    expect(perId).toBeLessThanOrEqual(SLOT_BYTES / 0.5); // tables at least half full: <= 40 B an id
    for (let i = 0; i < n; i += 97) expect(index.claim(`evt-${i}`, n / 20)).toBe(DURABLE);
  });

  it('at its id bound drops the oldest bucket, says so, and never answers a new id as a duplicate', () => {
    const told: ShortenedWindow[] = [];
    const index = new DedupeIndex(15 * HOUR, 1000, (info) => told.push(info));
    // 100 ids an hour: the 1000-id bound is reached after 10 of the 15 hours.
    for (let i = 0; i < 1500; i++) expect(index.claim(`id-${i}`, i * 36_000)).toBe(FRESH);
    expect(index.size).toBeLessThanOrEqual(1000);
    expect(told.length).toBeGreaterThan(0);
    expect(told[0]!.droppedIds).toBe(100);
    expect(told.at(-1)!.heldMs).toBeLessThan(15 * HOUR);
    // The oldest were forgotten early (told), the newest are held.
    expect(index.claim('id-0', 1500 * 36_000)).toBe(FRESH);
    expect(index.claim('id-1499', 1500 * 36_000)).toBe(DURABLE);
  });

  it('points a racing replay at the write still landing the id, and frees the ids of a failed write', async () => {
    const index = new DedupeIndex(24 * HOUR, 10_000);
    const write = index.openWrite();
    expect(index.claim('x', 0, write)).toBe(FRESH);
    expect(index.claim('y', 0, write)).toBe(FRESH);
    const landed = Promise.resolve();
    index.attach(write, landed);
    expect(index.claim('x', 1)).toBe(write);
    expect(index.pendingWrite(write)).toBe(landed);
    index.settle(write, false, ['x', 'y']);
    expect(index.pendingWrite(write)).toBeUndefined();
    expect(index.claim('x', 2)).toBe(FRESH);
    expect(index.claim('y', 2)).toBe(FRESH);

    const next = index.openWrite();
    expect(index.claim('z', 3, next)).toBe(FRESH);
    index.attach(next, landed);
    index.settle(next, true, ['z']);
    expect(index.claim('z', 4)).toBe(DURABLE);
  });
});
