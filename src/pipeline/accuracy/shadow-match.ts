import type { EtaEvent } from '../../events/index.js';

/**
 * How a shadow prediction finds its order. A predictor logs `app.shadow_prediction` for a sampled request: both
 * models' answers for a store, a destination and an order time, but no order id (the order does not exist yet). So it
 * is matched as the offline join (src/pipeline/shadow.ts) does: to the `order.created` of the same store and
 * destination created nearest in time, within SHADOW_MATCH_MS.
 */

export interface ShadowAnswer {
  version: string;
  p50: number;
  p10: number | null;
  p90: number | null;
}

export interface ShadowQuote {
  orderedAtMs: number;
  served: ShadowAnswer;
  shadow: ShadowAnswer;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function answerOf(v: unknown): ShadowAnswer | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const a = v as Record<string, unknown>;
  const p50 = num(a.p50);
  if (typeof a.version !== 'string' || p50 === null) return undefined;
  return { version: a.version, p50, p10: num(a.p10), p90: num(a.p90) };
}

/** Where a quote and an order meet: the same store and the same destination, to the last digit sent. */
export function matchKey(storeId: unknown, destination: unknown): string | undefined {
  const d = (destination ?? {}) as { lat?: unknown; lng?: unknown };
  const lat = num(d.lat);
  const lng = num(d.lng);
  if (typeof storeId !== 'string' || lat === null || lng === null) return undefined;
  return `${storeId}|${lat}|${lng}`;
}

/** An `app.shadow_prediction` event as a quote, or undefined when it lacks what the join needs. */
export function shadowQuoteOf(e: EtaEvent): { key: string; quote: ShadowQuote } | undefined {
  const key = matchKey(e.store_id, e.destination);
  const orderedAtMs = typeof e.ordered_at === 'string' ? Date.parse(e.ordered_at) : Number.NaN;
  const served = answerOf(e.served);
  const shadow = answerOf(e.shadow);
  if (!key || !Number.isFinite(orderedAtMs) || !served || !shadow || served.version === shadow.version)
    return undefined;
  return { key, quote: { orderedAtMs, served, shadow } };
}

/**
 * Items waiting for their counterpart, by match key; `take` hands out the one nearest in time within a tolerance.
 * Bounded in count (the oldest key goes first), and `expire` forgets what can no longer match.
 */
export class NearestInTime<T> {
  private readonly byKey = new Map<string, Array<{ atMs: number; item: T }>>();
  private count = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.count;
  }

  add(key: string, atMs: number, item: T): void {
    if (this.count >= this.max) this.dropOldestKey();
    const list = this.byKey.get(key);
    if (list) list.push({ atMs, item });
    else this.byKey.set(key, [{ atMs, item }]);
    this.count++;
  }

  take(key: string, atMs: number, withinMs: number): T | undefined {
    const list = this.byKey.get(key);
    if (!list) return undefined;
    let best = -1;
    for (let i = 0; i < list.length; i++) {
      const d = Math.abs(list[i]!.atMs - atMs);
      if (d <= withinMs && (best < 0 || d < Math.abs(list[best]!.atMs - atMs))) best = i;
    }
    if (best < 0) return undefined;
    const item = list[best]!.item;
    list.splice(best, 1);
    if (list.length === 0) this.byKey.delete(key);
    this.count--;
    return item;
  }

  /** Drops the items `drop` says: a full scan, for the rare forget. */
  remove(drop: (item: T) => boolean): void {
    for (const [key, list] of this.byKey) {
      const kept = list.filter((e) => !drop(e.item));
      if (kept.length === list.length) continue;
      this.count -= list.length - kept.length;
      if (kept.length === 0) this.byKey.delete(key);
      else this.byKey.set(key, kept);
    }
  }

  /** Forgets items older than `beforeMs`: a full scan, so callers run it now and then, not per event. */
  expire(beforeMs: number): void {
    for (const [key, list] of this.byKey) {
      const kept = list.filter((e) => e.atMs >= beforeMs);
      if (kept.length === list.length) continue;
      this.count -= list.length - kept.length;
      if (kept.length === 0) this.byKey.delete(key);
      else this.byKey.set(key, kept);
    }
  }

  private dropOldestKey(): void {
    const first = this.byKey.keys().next();
    if (first.done) return;
    this.count -= this.byKey.get(first.value)!.length;
    this.byKey.delete(first.value);
  }
}
