import { Cluster, Redis } from 'ioredis';
import type { Logger } from '../platform/index.js';

/** Requests per second per key. */
export interface RateLimiter {
  /** 0 when admitted; otherwise seconds until the key may try again. */
  take(key: string, perSecond: number): number | Promise<number>;
  close?(): Promise<void>;
}

/** A token bucket per key with one second of burst, in this process only. */
export class LocalRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  take(key: string, perSecond: number, nowMs = performance.now()): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: perSecond, at: nowMs };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(perSecond, bucket.tokens + ((nowMs - bucket.at) / 1000) * perSecond);
    bucket.at = nowMs;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / perSecond;
  }
}

/**
 * The same token bucket, kept in Redis so the limit holds across every gateway replica. One key per API key (a
 * single hash slot, so it runs on Redis Cluster too); the bucket refills from Redis's own clock, never the
 * replicas'. Atomic as a Lua script.
 */
const TOKEN_BUCKET = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local rate = tonumber(ARGV[1])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(b[1]) or rate
local at = tonumber(b[2]) or ms
tokens = math.min(rate, tokens + (ms - at) / 1000 * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', ms)
redis.call('PEXPIRE', KEYS[1], 2000)
return tostring(wait)
`;

type Client = (Redis | Cluster) & { etaTokenBucket(key: string, rate: number): Promise<string> };

/**
 * Rate limits in Redis, with the local limiter as the fallback: while Redis is down or slow (past `timeoutMs`),
 * each gateway counts alone rather than refusing or stalling requests.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly client: Client;
  private readonly local = new LocalRateLimiter();

  constructor(
    redis: { url: string; clusterNodes: readonly string[] },
    private readonly logger: Logger,
    private readonly timeoutMs = 20,
  ) {
    const options = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      commandTimeout: timeoutMs,
      // Every request takes a token: the scripts of one event-loop turn go out in one write, not one write (and
      // one syscall) each, which was a tenth of the gateway's CPU at 2,000 req/s.
      enableAutoPipelining: true,
    };
    const client =
      redis.clusterNodes.length > 0
        ? new Cluster(
            redis.clusterNodes.map((n) => ({
              host: n.slice(0, n.lastIndexOf(':')),
              port: Number(n.slice(n.lastIndexOf(':') + 1)),
            })),
            { enableOfflineQueue: false, redisOptions: options },
          )
        : new Redis(redis.url, options);
    client.defineCommand('etaTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET });
    client.on('error', () => undefined); // reported by the cache module's own connection
    this.client = client as Client;
    void client.connect().catch(() => undefined);
  }

  /** Whether limits are counted in Redis now (otherwise in this process). */
  get shared(): boolean {
    return this.client.status === 'ready';
  }

  async take(key: string, perSecond: number): Promise<number> {
    if (this.client.status !== 'ready') return this.local.take(key, perSecond);
    try {
      return Number(await this.client.etaTokenBucket(`etaserve:ratelimit:${key}`, perSecond));
    } catch (e) {
      this.logger.debug({ err: e }, 'rate limit in Redis failed: counting locally');
      return this.local.take(key, perSecond);
    }
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
