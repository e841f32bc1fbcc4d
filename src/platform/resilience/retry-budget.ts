/**
 * Envoy's retry budget: retries may add at most `ratio` of the recent request load (20% by default), with a floor
 * of `minRetries` per window so a quiet gateway can still retry. A dead replica under full load therefore costs at
 * most 1.2x the traffic, never a retry storm.
 */
export class RetryBudget {
  private windowStart = 0;
  private requests = 0;
  private retries = 0;
  private previous = { requests: 0, retries: 0 };

  constructor(
    private readonly options: { ratio: number; minRetries: number; windowMs: number } = {
      ratio: 0.2,
      minRetries: 10,
      windowMs: 10_000,
    },
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Counts a first attempt. */
  request(): void {
    this.roll();
    this.requests++;
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryRetry(): boolean {
    this.roll();
    // The window so far plus the tail of the previous one, so the budget does not reset in a jump.
    const elapsed = (this.now() - this.windowStart) / this.options.windowMs;
    const weight = Math.max(0, 1 - elapsed);
    const requests = this.requests + this.previous.requests * weight;
    const retries = this.retries + this.previous.retries * weight;
    if (retries + 1 > Math.max(this.options.minRetries, requests * this.options.ratio)) return false;
    this.retries++;
    return true;
  }

  private roll(): void {
    const now = this.now();
    if (now - this.windowStart < this.options.windowMs) return;
    const skipped = now - this.windowStart >= 2 * this.options.windowMs;
    this.previous = skipped
      ? { requests: 0, retries: 0 }
      : { requests: this.requests, retries: this.retries };
    this.windowStart = now;
    this.requests = 0;
    this.retries = 0;
  }
}
