import type { EtaEvent } from '../../events/index.js';
import { SHADOW_MATCH_MS } from '../etl/history-events.js';
import type { ShadowSummary } from '../promotion/policy.js';
import {
  matchKey,
  NearestInTime,
  shadowQuoteOf,
  type ShadowAnswer,
  type ShadowQuote,
} from './shadow-match.js';

/** One model's answer on one delivered, shadowed order, and the model it was compared with on that order. */
export interface ShadowObservation {
  modelVersion: string;
  comparedWith: string;
  deliveredAtMs: number;
  /** p50 − actual: positive means the ETA was too long. */
  errorSeconds: number;
  /** Within p10–p90; null when the model has no range. */
  covered: boolean | null;
}

/** Accuracy of one model on the shadowed orders of one pair (no on-time share: only the served answer promised). */
export interface ShadowStats {
  deliveries: number;
  mae_seconds: number | null;
  bias_seconds: number | null;
  coverage_ratio: number | null;
}

function score(a: ShadowAnswer, comparedWith: string, actualS: number, atMs: number): ShadowObservation {
  return {
    modelVersion: a.version,
    comparedWith,
    deliveredAtMs: atMs,
    errorSeconds: a.p50 - actualS,
    covered: a.p10 === null || a.p90 === null ? null : actualS >= a.p10 && actualS <= a.p90,
  };
}

class ShadowAggregate {
  n = 0;
  absSum = 0;
  sum = 0;
  withRange = 0;
  covered = 0;

  add(o: ShadowObservation): void {
    this.n++;
    this.absSum += Math.abs(o.errorSeconds);
    this.sum += o.errorSeconds;
    if (o.covered !== null) {
      this.withRange++;
      if (o.covered) this.covered++;
    }
  }

  stats(): ShadowStats {
    const n = this.n;
    const r = (v: number, d: number): number => Math.round(v * d) / d;
    return {
      deliveries: n,
      mae_seconds: n ? r(this.absSum / n, 10) : null,
      bias_seconds: n ? r(this.sum / n, 10) : null,
      coverage_ratio: this.withRange ? r(this.covered / this.withRange, 1e4) : null,
    };
  }
}

const EMPTY: ShadowStats = new ShadowAggregate().stats();

/** Shadow observations aggregated per (model version, version compared with). */
export class ShadowPairs {
  private readonly pairs = new Map<string, { version: string; comparedWith: string; agg: ShadowAggregate }>();

  add(o: ShadowObservation): void {
    const key = `${o.modelVersion}\u0000${o.comparedWith}`;
    let p = this.pairs.get(key);
    if (!p) {
      p = { version: o.modelVersion, comparedWith: o.comparedWith, agg: new ShadowAggregate() };
      this.pairs.set(key, p);
    }
    p.agg.add(o);
  }

  get(version: string, comparedWith: string): ShadowStats {
    return this.pairs.get(`${version}\u0000${comparedWith}`)?.agg.stats() ?? EMPTY;
  }

  entries(): Array<{ model_version: string; compared_with: string } & ShadowStats> {
    return [...this.pairs.values()].map((p) => ({
      model_version: p.version,
      compared_with: p.comparedWith,
      ...p.agg.stats(),
    }));
  }

  /** The champion and the challenger on the same delivered orders, whichever of the two served each one. */
  comparison(champion: string | undefined, challenger: string | undefined): ShadowSummary | undefined {
    if (!champion || !challenger) return undefined;
    const a = this.get(champion, challenger);
    const b = this.get(challenger, champion);
    if (a.mae_seconds === null || b.mae_seconds === null) return undefined;
    return { samples: b.deliveries, championMaeS: a.mae_seconds, challengerMaeS: b.mae_seconds };
  }
}

/**
 * The shadow side of the online join (see shadow-match.ts for the matching): holds shadow predictions until their
 * order is created, and scores both answers of a shadowed order against its delivery. Each model is scored from its
 * own p50 and range as the predictor logged them, so the two sides of a pair are compared on equal terms.
 */
export class ShadowJoin {
  private readonly quotes: NearestInTime<ShadowQuote>;
  /** Orders created before their shadow prediction was read (the log does not promise the order). */
  private readonly awaiting: NearestInTime<string>;
  private readonly pairs = new ShadowPairs();
  private recent: ShadowObservation[] = [];
  private readonly listeners: Array<(o: ShadowObservation) => void> = [];
  private latestMs = 0;
  private expiredAtMs = 0;

  /** `attach` gives a late shadow prediction to its order; false when that order is no longer pending. */
  constructor(
    max: number,
    private readonly attach: (orderId: string, quote: ShadowQuote) => boolean,
  ) {
    this.quotes = new NearestInTime(max);
    this.awaiting = new NearestInTime(max);
  }

  get pendingQuotes(): number {
    return this.quotes.size;
  }

  onObservation(listener: (o: ShadowObservation) => void): void {
    this.listeners.push(listener);
  }

  predicted(e: EtaEvent): void {
    this.seen(Date.parse(e.occurred_at));
    const parsed = shadowQuoteOf(e);
    if (!parsed) return;
    const { key, quote } = parsed;
    const orderId = this.awaiting.take(key, quote.orderedAtMs, SHADOW_MATCH_MS);
    if (orderId === undefined || !this.attach(orderId, quote)) this.quotes.add(key, quote.orderedAtMs, quote);
  }

  /** An order was created: the shadow prediction of its request, when that was read already. */
  created(
    orderId: string,
    storeId: unknown,
    destination: unknown,
    createdAtMs: number,
  ): ShadowQuote | undefined {
    this.seen(createdAtMs);
    const key = matchKey(storeId, destination);
    if (!key) return undefined;
    const quote = this.quotes.take(key, createdAtMs, SHADOW_MATCH_MS);
    if (!quote) this.awaiting.add(key, createdAtMs, orderId);
    return quote;
  }

  delivered(quote: ShadowQuote, actualSeconds: number, atMs: number): void {
    for (const o of [
      score(quote.served, quote.shadow.version, actualSeconds, atMs),
      score(quote.shadow, quote.served.version, actualSeconds, atMs),
    ]) {
      this.pairs.add(o);
      this.recent.push(o);
      for (const l of this.listeners) l(o);
    }
  }

  /** Forgets unmatched predictions and orders by event time, a few times per match window (it scans them all). */
  expire(): void {
    if (this.latestMs - this.expiredAtMs < SHADOW_MATCH_MS / 4) return;
    this.expiredAtMs = this.latestMs;
    this.quotes.expire(this.latestMs - 2 * SHADOW_MATCH_MS);
    this.awaiting.expire(this.latestMs - 2 * SHADOW_MATCH_MS);
  }

  /** Forgotten orders waiting for their shadow prediction: their match key is the destination. */
  forgetOrders(orderIds: ReadonlySet<string>): void {
    this.awaiting.remove((orderId) => orderIds.has(orderId));
  }

  /** Drops observations delivered before `sinceMs` from the window. */
  trim(sinceMs: number): void {
    let i = 0;
    while (i < this.recent.length && this.recent[i]!.deliveredAtMs < sinceMs) i++;
    if (i > 0) this.recent = this.recent.slice(i);
  }

  /** Pairs over the recent (windowed) observations; call `trim` first. */
  windowPairs(): ShadowPairs {
    const pairs = new ShadowPairs();
    for (const o of this.recent) pairs.add(o);
    return pairs;
  }

  comparison(champion: string | undefined, challenger: string | undefined): ShadowSummary | undefined {
    return this.pairs.comparison(champion, challenger);
  }

  /** Every pair since the start, each with its windowed stats. */
  entries(
    window: ShadowPairs,
  ): Array<{ model_version: string; compared_with: string } & ShadowStats & { window: ShadowStats }> {
    return this.pairs.entries().map((p) => ({ ...p, window: window.get(p.model_version, p.compared_with) }));
  }

  private seen(atMs: number): void {
    if (atMs > this.latestMs) this.latestMs = atMs;
  }
}
