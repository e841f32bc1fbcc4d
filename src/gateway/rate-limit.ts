/** Requests per second per key, as a token bucket with one second of burst. In-process for now. */
export interface RateLimiter {
  /** 0 when admitted; otherwise seconds until a token is free. */
  take(key: string, perSecond: number): number;
}

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
