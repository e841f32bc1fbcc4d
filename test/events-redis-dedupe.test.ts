import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisEventLog, type EtaEvent, type RedisLogOptions } from '../src/events/index.js';
import { startRedis } from './support/redis.js';

/**
 * Dedupe of the Redis backend against a real Redis: ids in a few time-bucket sets whose TTLs follow the window (no
 * key per event, nothing kept 24 h), exact within the window, the id bound honoured and told, and the settings that
 * would let Redis evict them reported at open.
 */
const redis = await startRedis();

const WINDOW = 15 * 60_000;
const ev = (i: number): EtaEvent => ({
  event_id: `e-${i}`,
  type: 'order.accepted',
  occurred_at: '2026-01-05T12:00:00Z',
  order_id: `o-${i}`,
  store_id: 's-1',
});

describe.skipIf(!redis)('Redis event log dedupe', () => {
  const logs: RedisEventLog[] = [];
  let admin: Redis | undefined;
  afterAll(async () => {
    for (const l of logs) await l.close();
    admin?.disconnect();
    await redis?.stop();
  });

  async function open(stream: string, extra: Partial<RedisLogOptions> = {}): Promise<RedisEventLog> {
    const log = new RedisEventLog({
      url: redis!.url,
      stream,
      dedupeWindowMs: WINDOW,
      dedupeMaxIds: 100_000,
      retentionMs: 0,
      maxDiskBytes: 0,
      ...extra,
    });
    await log.open();
    logs.push(log);
    return log;
  }

  const client = (): Redis => (admin ??= new Redis(redis!.url));

  it('keeps ids in bucket sets whose TTL is the window, not one key per event for 24 h', async () => {
    const log = await open('d1');
    const batch = Array.from({ length: 500 }, (_, i) => ev(i));
    await log.append(batch);
    expect((await log.append(batch)).offsets.every((o) => o === null)).toBe(true);
    const keys = await client().keys('{d1}:d:*');
    expect(keys).toHaveLength(1);
    expect(await client().type(keys[0]!)).toBe('set');
    expect(await client().scard(keys[0]!)).toBe(500);
    const ttl = await client().pttl(keys[0]!);
    // Expires one window after its bucket ends: more than the window, at most window + one bucket.
    expect(ttl).toBeGreaterThan(WINDOW - 5000);
    expect(ttl).toBeLessThanOrEqual(WINDOW + log.bucketMs);
    expect(await client().keys('{d1}:d:e-*')).toEqual([]);
  });

  it('is exact within the window and forgets after it (simulated clock)', async () => {
    let now = Date.now();
    const log = await open('d2', { now: () => now });
    expect((await log.append([ev(1)])).offsets[0]).not.toBeNull();
    for (let step = 0; step < 15; step++) {
      now += WINDOW / 15 - 1;
      expect((await log.append([ev(1)])).offsets[0]).toBeNull();
    }
    now += 2 * log.bucketMs; // past window + one bucket since it came
    expect((await log.append([ev(1)])).offsets[0]).not.toBeNull();
    // Live buckets only: never more than window / bucket + 1 keys.
    expect((await client().keys('{d2}:d:*')).length).toBeLessThanOrEqual(16 + 2);
  });

  it('honours the id bound: the oldest bucket goes first and it is told, never a false duplicate', async () => {
    let now = Date.now();
    const told: number[] = [];
    const log = await open('d3', {
      now: () => now,
      dedupeMaxIds: 100,
      onDedupeShortened: (i) => told.push(i.droppedIds),
    });
    for (let b = 0; b < 4; b++) {
      const batch = Array.from({ length: 40 }, (_, i) => ev(b * 100 + i));
      expect((await log.append(batch)).offsets.every((o) => o !== null)).toBe(true);
      now += log.bucketMs;
    }
    expect(told.length).toBeGreaterThan(0);
    let held = 0;
    for (const k of await client().keys('{d3}:d:*')) held += await client().scard(k);
    expect(held).toBeLessThanOrEqual(100);
    expect((await log.append([ev(339)])).offsets[0]).toBeNull(); // the newest bucket is held
  });

  it('reports a Redis that may evict its keys (degraded) and one without AOF (a warning)', async () => {
    const problems: Array<{ level: string; message: string }> = [];
    await client().config('SET', 'maxmemory-policy', 'volatile-lru');
    try {
      const log = await open('d4', { onProblem: (p) => problems.push(p) });
      expect(problems.find((p) => p.level === 'error')?.message).toMatch(
        /maxmemory-policy volatile-lru.*noeviction/,
      );
      expect(problems.find((p) => p.level === 'warn')?.message).toMatch(/appendonly no/);
      expect(log.health().problems).toHaveLength(1);
    } finally {
      await client().config('SET', 'maxmemory-policy', 'noeviction');
    }
    const fine: unknown[] = [];
    const ok = await open('d5', { onProblem: (p) => p.level === 'error' && fine.push(p) });
    expect(fine).toEqual([]);
    expect(ok.health().problems).toEqual([]);
  });
});
