import type { Logger } from '../platform/index.js';
import type { SampleSource } from './samples.js';
import { computePoint, toScrape, type LivePoint, type Scrape } from './snapshot.js';

export interface LiveSamplerOptions {
  sources: SampleSource[];
  intervalMs?: number;
  /** Points kept for a page that opens late: 15 minutes at one per second. */
  historySize?: number;
  rateWindowS?: number;
  quantileWindowS?: number;
  logger?: Logger;
}

/**
 * Scrapes the metrics once a second and keeps the last 15 minutes of computed points, so that a page opened now
 * draws the recent past at once and then moves with every new point.
 */
export class LiveSampler {
  private readonly points: LivePoint[] = [];
  private readonly scrapes: Array<{ t: number; scrape: Scrape }> = [];
  private readonly listeners = new Set<(p: LivePoint) => void>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly intervalMs: number;
  private readonly historySize: number;
  private readonly rateWindowS: number;
  private readonly quantileWindowS: number;

  constructor(private readonly options: LiveSamplerOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.historySize = options.historySize ?? 900;
    this.rateWindowS = options.rateWindowS ?? 5;
    this.quantileWindowS = options.quantileWindowS ?? 10;
  }

  start(): void {
    if (this.timer) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  history(): LivePoint[] {
    return [...this.points];
  }

  latest(): LivePoint | undefined {
    return this.points[this.points.length - 1];
  }

  subscribe(listener: (p: LivePoint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One scrape and one point; exposed so tests need no timers. */
  async tick(t = Date.now()): Promise<LivePoint | undefined> {
    // A slow remote scrape must not pile up ticks behind it.
    if (this.busy) return undefined;
    this.busy = true;
    try {
      const all = await Promise.all(this.options.sources.map((source) => source()));
      const scrape = toScrape(all.flat());
      this.scrapes.push({ t, scrape });
      const keepMs = (this.quantileWindowS + 1) * 1000 + this.intervalMs;
      while (this.scrapes.length > 2 && this.scrapes[0]!.t < t - keepMs) this.scrapes.shift();
      const rateBase = this.at(t - this.rateWindowS * 1000);
      const quantileBase = this.at(t - this.quantileWindowS * 1000);
      const point = computePoint(
        t,
        scrape,
        rateBase && { scrape: rateBase.scrape, seconds: Math.max((t - rateBase.t) / 1000, 0.001) },
        quantileBase?.scrape,
      );
      this.points.push(point);
      if (this.points.length > this.historySize) this.points.splice(0, this.points.length - this.historySize);
      for (const listener of this.listeners) listener(point);
      return point;
    } catch (e) {
      this.options.logger?.warn({ err: e }, 'console: a metrics sample failed');
      return undefined;
    } finally {
      this.busy = false;
    }
  }

  /** The oldest kept scrape no older than `since`; the first scrape until the window has filled. */
  private at(since: number): { t: number; scrape: Scrape } | undefined {
    const candidates = this.scrapes.slice(0, -1);
    return candidates.find((s) => s.t >= since) ?? candidates[candidates.length - 1];
  }
}
