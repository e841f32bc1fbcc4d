import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisRateLimiter } from '../src/gateway/rate-limit.js';
import { createLogger } from '../src/platform/index.js';
import { startRedis, type RedisServer } from './support/redis.js';

let redis: RedisServer | undefined;
const limiters: RedisRateLimiter[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await Promise.all(limiters.map((l) => l.close()));
  await redis?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function ready(limiter: RedisRateLimiter): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (limiter.shared) return;
    await sleep(50);
  }
  throw new Error('rate limiter never connected to Redis');
}

it('holds a key to its limit across two gateways, and counts locally while Redis is down', async (ctx) => {
  if (!redis) return ctx.skip();
  const logger = createLogger({ level: 'silent' });
  const a = new RedisRateLimiter({ url: redis.url, clusterNodes: [] }, logger, 200);
  const b = new RedisRateLimiter({ url: redis.url, clusterNodes: [] }, logger, 200);
  limiters.push(a, b);
  await Promise.all([ready(a), ready(b)]);

  // 20 requests per gateway for a key allowed 10 per second: 10 in all get through, not 10 each.
  const waits = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take('key-1', 10)));
  const admitted = waits.filter((w) => w === 0).length;
  expect(admitted).toBeGreaterThanOrEqual(10);
  expect(admitted).toBeLessThanOrEqual(11);
  expect(Math.max(...waits)).toBeGreaterThan(0);

  await redis.kill9();
  for (let i = 0; i < 50 && a.shared; i++) await sleep(20);
  // Redis down: each gateway falls back to its own bucket instead of refusing or stalling.
  const local = await Promise.all(Array.from({ length: 5 }, () => a.take('key-2', 10)));
  expect(local).toEqual([0, 0, 0, 0, 0]);
});
