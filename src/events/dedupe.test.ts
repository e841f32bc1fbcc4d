import { describe, expect, it } from 'vitest';
import { DedupeIndex, DURABLE, FRESH } from './dedupe.js';

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

  it('lets an id in again once the window has passed', () => {
    const index = new DedupeIndex(HOUR, 10_000);
    expect(index.claim('a', 0)).toBe(FRESH);
    expect(index.claim('a', HOUR - 1)).toBe(DURABLE);
    expect(index.claim('a', HOUR)).toBe(FRESH);
    // The window now runs from the second arrival.
    expect(index.claim('a', 2 * HOUR - 1)).toBe(DURABLE);
    index.expire(10 * HOUR);
    expect(index.size).toBe(0);
    expect(index.claim('a', 10 * HOUR)).toBe(FRESH);
  });

  it('forgets the oldest ids first when it holds its maximum', () => {
    const index = new DedupeIndex(24 * HOUR, 1000);
    for (let i = 0; i < 1500; i++) index.claim(`id-${i}`, i);
    expect(index.size).toBe(1000);
    expect(index.claim('id-0', 2000)).toBe(FRESH);
    expect(index.claim('id-1499', 2000)).toBe(DURABLE);
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
    index.settle(write, false, 2);
    expect(index.pendingWrite(write)).toBeUndefined();
    expect(index.claim('x', 2)).toBe(FRESH);
    expect(index.claim('y', 2)).toBe(FRESH);

    const next = index.openWrite();
    expect(index.claim('z', 3, next)).toBe(FRESH);
    index.attach(next, landed);
    index.settle(next, true, 1);
    expect(index.claim('z', 4)).toBe(DURABLE);
  });
});
