import type { LogRecord } from '../../events/index.js';

/**
 * A per-zone check for what feature PSI cannot see: one zone's kitchens getting slower is a twentieth of the
 * traffic and barely moves a pooled histogram. It watches what such a change moves directly, the observed prep time
 * of each order (order.accepted → order.ready), per zone (H3 res 7 of the store), rather than delivery residuals that
 * mix in riders and the model.
 *
 * Noise is measured, not assumed: prep times within a day are strongly correlated (rush hours, a busy kitchen), so
 * σ/√n understates how far the mean of K orders wanders. The bound is how far the mean of K consecutive orders
 * actually wandered from the zone's own baseline mean (the max over every run of K consecutive orders in the
 * baseline), times a margin, with a floor. The live statistic is the same: the mean of the zone's last K orders.
 */
export interface ZonePrepShiftOptions {
  /** K: orders per mean, live and in the baseline (30). */
  blockSize?: number;
  /** The baseline: the zone's orders over this long (7 days) … */
  baselineMs?: number;
  /**
   * … ending this long ago (1 day): a shift joins the baseline only after it, so it alarms for about that long and
   * then is the new normal.
   */
  lagMs?: number;
  /** Baseline orders a zone needs before it is judged (300: 10 runs of K; fewer gave a false alarm in a small zone). */
  minBaselineOrders?: number;
  /**
   * … and how long its baseline must span (7 days): every weekday, so a first Friday rush is not mistaken for a
   * change. With the 1-day lag, a zone is judged from 8 days after its first order seen.
   */
  minBaselineSpanMs?: number;
  /** Times the largest natural wander (1.25). */
  margin?: number;
  /** The bound is at least this many seconds (90) … */
  floorSeconds?: number;
  /** … and this share of the baseline mean (0.15). */
  floorRatio?: number;
  /** An alarm clears below this share of the bound (0.8: no flapping). */
  clearRatio?: number;
  /** Zones followed at most (500): bounds memory and the metric's labels. */
  maxZones?: number;
  /** Orders kept per zone at most (50 000). */
  maxOrdersPerZone?: number;
}

export interface ZonePrepEntry {
  zone: string;
  /** Orders in the live mean (K once judged). */
  orders: number;
  baseline_orders: number;
  baseline_prep_s: number;
  recent_prep_s: number;
  /** |recent − baseline| beyond this alarms. */
  bound_s: number;
  alarm: boolean;
}

export interface ZoneAlarm {
  zone: string;
  orders: number;
  baseline_prep_s: number;
  recent_prep_s: number;
  message: string;
}

/** A change of a zone's state: raised or cleared. */
export interface ZoneAlarmChange {
  zone: string;
  alarm: boolean;
  entry: ZonePrepEntry;
  atMs: number;
}

interface ZoneState {
  /** Prep seconds and their ready times, oldest first; `head` is the first live one (older ones trimmed lazily). */
  at: number[];
  prep: number[];
  head: number;
  /** The first order ever seen (not trimmed): how long the zone has been watched. */
  firstAtMs: number;
  /** Sum of the last K preps. */
  liveSum: number;
  liveN: number;
  /** The baseline, recomputed every K orders: mean, bound, orders; NaN mean when too few. */
  baseMean: number;
  bound: number;
  baseN: number;
  sinceRecompute: number;
  alarm: boolean;
}

export class ZonePrepShift {
  private readonly zones = new Map<string, ZoneState>();
  private readonly k: number;
  private readonly baselineMs: number;
  private readonly lagMs: number;
  private readonly minBaseline: number;
  private readonly minSpan: number;
  private readonly margin: number;
  private readonly floor: number;
  private readonly floorRatio: number;
  private readonly clearRatio: number;
  private readonly maxZones: number;
  private readonly maxOrders: number;
  private readonly listeners: Array<(c: ZoneAlarmChange) => void> = [];

  constructor(options: ZonePrepShiftOptions = {}) {
    this.k = options.blockSize ?? 30;
    this.baselineMs = options.baselineMs ?? 7 * 86_400_000;
    this.lagMs = options.lagMs ?? 86_400_000;
    this.minBaseline = options.minBaselineOrders ?? 10 * this.k;
    this.minSpan = options.minBaselineSpanMs ?? this.baselineMs;
    this.margin = options.margin ?? 1.25;
    this.floor = options.floorSeconds ?? 90;
    this.floorRatio = options.floorRatio ?? 0.15;
    this.clearRatio = options.clearRatio ?? 0.8;
    this.maxZones = options.maxZones ?? 500;
    this.maxOrders = options.maxOrdersPerZone ?? 50_000;
  }

  /** Called when a zone's alarm is raised or cleared. */
  onChange(listener: (c: ZoneAlarmChange) => void): void {
    this.listeners.push(listener);
  }

  /** One order's prep time, at the time it was ready; orders should come in time order. */
  add(zone: string, atMs: number, prepSeconds: number): void {
    if (!(prepSeconds > 0) || !Number.isFinite(prepSeconds) || !Number.isFinite(atMs)) return;
    let z = this.zones.get(zone);
    if (!z) {
      if (this.zones.size >= this.maxZones) return;
      z = {
        at: [],
        prep: [],
        head: 0,
        firstAtMs: atMs,
        liveSum: 0,
        liveN: 0,
        baseMean: Number.NaN,
        bound: Number.NaN,
        baseN: 0,
        sinceRecompute: Infinity,
        alarm: false,
      };
      this.zones.set(zone, z);
    }
    z.at.push(atMs);
    z.prep.push(prepSeconds);
    z.liveSum += prepSeconds;
    if (z.liveN < this.k) z.liveN++;
    else z.liveSum -= z.prep[z.prep.length - 1 - this.k]!;
    if (++z.sinceRecompute >= this.k) this.recompute(z, atMs);
    this.judge(zone, z, atMs);
  }

  /** Trims what is older than the baseline, and measures the baseline: its mean and how far K-order means wander. */
  private recompute(z: ZoneState, nowMs: number): void {
    z.sinceRecompute = 0;
    const end = nowMs - this.lagMs;
    const start = end - this.baselineMs;
    while (z.head < z.at.length && (z.at[z.head]! < start || z.at.length - z.head > this.maxOrders)) z.head++;
    if (z.head > 4096 && z.head * 2 > z.at.length) {
      z.at = z.at.slice(z.head);
      z.prep = z.prep.slice(z.head);
      z.head = 0;
    }
    // The baseline's orders: from head to the last one ready before `end`, and never the live K.
    let last = z.head;
    const liveStart = z.at.length - z.liveN;
    while (last < liveStart && z.at[last]! < end) last++;
    const n = last - z.head;
    z.baseN = n;
    if (n < Math.max(this.minBaseline, this.k) || end - z.firstAtMs < this.minSpan) {
      z.baseMean = Number.NaN;
      z.bound = Number.NaN;
      return;
    }
    let sum = 0;
    for (let i = z.head; i < last; i++) sum += z.prep[i]!;
    const mean = sum / n;
    // Every run of K consecutive orders, as the live mean is taken after every order.
    let window = 0;
    let wander = 0;
    for (let i = z.head; i < last; i++) {
      window += z.prep[i]!;
      if (i - z.head >= this.k) window -= z.prep[i - this.k]!;
      if (i - z.head >= this.k - 1) wander = Math.max(wander, Math.abs(window / this.k - mean));
    }
    z.baseMean = mean;
    z.bound = Math.max(this.margin * wander, this.floor, this.floorRatio * mean);
  }

  private judge(zone: string, z: ZoneState, atMs: number): void {
    const judged = z.liveN >= this.k && Number.isFinite(z.baseMean);
    const moved = judged ? Math.abs(z.liveSum / z.liveN - z.baseMean) : 0;
    const alarm = judged && (z.alarm ? moved >= this.clearRatio * z.bound : moved > z.bound);
    if (alarm === z.alarm) return;
    z.alarm = alarm;
    const change = { zone, alarm, entry: this.entry(zone, z), atMs };
    for (const l of this.listeners) l(change);
  }

  private entry(zone: string, z: ZoneState): ZonePrepEntry {
    const r = (x: number): number => Math.round(x * 10) / 10;
    return {
      zone,
      orders: z.liveN,
      baseline_orders: z.baseN,
      baseline_prep_s: r(z.baseMean),
      recent_prep_s: r(z.liveN ? z.liveSum / z.liveN : Number.NaN),
      bound_s: r(z.bound),
      alarm: z.alarm,
    };
  }

  /** Every zone that is judged (enough orders and baseline), furthest moved first. */
  entries(): ZonePrepEntry[] {
    const out: ZonePrepEntry[] = [];
    for (const [zone, z] of this.zones)
      if (z.liveN >= this.k && Number.isFinite(z.baseMean)) out.push(this.entry(zone, z));
    const moved = (e: ZonePrepEntry): number => Math.abs(e.recent_prep_s - e.baseline_prep_s);
    return out.sort((a, b) => moved(b) - moved(a));
  }

  /** The zones in alarm, each with a sentence an operator can read. */
  alarms(): ZoneAlarm[] {
    return this.entries()
      .filter((e) => e.alarm)
      .map((e) => ({
        zone: e.zone,
        orders: e.orders,
        baseline_prep_s: e.baseline_prep_s,
        recent_prep_s: e.recent_prep_s,
        message: zoneMessage(e),
      }));
  }

  /** Zones followed, each with 1 in alarm and 0 otherwise: the gauge. */
  states(): Array<[string, 0 | 1]> {
    return [...this.zones].map(([zone, z]) => [zone, z.alarm ? 1 : 0]);
  }
}

export function zoneMessage(
  e: Pick<ZonePrepEntry, 'zone' | 'orders' | 'baseline_prep_s' | 'recent_prep_s'>,
): string {
  const min = (s: number): string => (s / 60).toFixed(1);
  const pct = Math.round((e.recent_prep_s / e.baseline_prep_s - 1) * 100);
  return `zone ${e.zone}: kitchens ${pct >= 0 ? 'slower' : 'faster'}: prep ${min(e.recent_prep_s)} min over its last ${e.orders} orders, ${min(e.baseline_prep_s)} min usually (${pct >= 0 ? '+' : ''}${pct}%)`;
}

/** The zone of a store: one definition with the range segments (src/features/segments.ts). */
export { storeZone } from '../../features/index.js';

export interface ZonePrepMonitorOptions extends ZonePrepShiftOptions {
  /**
   * Zones of stores, from the catalog: samples of a store wait (up to 500) until its zone is known; a store the
   * catalog does not know is asked about again after 10 minutes.
   */
  resolveZones: (storeIds: string[]) => Promise<Map<string, string>>;
  /** Orders accepted and not yet ready, at most (200 000). */
  maxPending?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

const RETRY_UNKNOWN_MS = 10 * 60_000;
const MAX_WAITING_PER_STORE = 500;

/** The event side: prep times from `order.accepted` → `order.ready`, fed to a ZonePrepShift by store zone. */
export class ZonePrepMonitor {
  readonly check: ZonePrepShift;
  private readonly accepted = new Map<string, { storeId: string; atMs: number }>();
  private readonly zoneOf = new Map<string, string | { unknownSinceMs: number }>();
  private readonly waiting = new Map<string, Array<[number, number]>>();
  private resolving: Promise<void> | undefined;

  constructor(private readonly options: ZonePrepMonitorOptions) {
    this.check = new ZonePrepShift(options);
  }

  apply(records: readonly LogRecord[]): void {
    for (const { event } of records) {
      const orderId = event.order_id;
      const storeId = event.store_id;
      if (typeof orderId !== 'string') continue;
      if (event.type === 'order.accepted' && typeof storeId === 'string') {
        if (this.accepted.has(orderId)) continue;
        if (this.accepted.size >= (this.options.maxPending ?? 200_000))
          this.accepted.delete(this.accepted.keys().next().value!);
        this.accepted.set(orderId, { storeId, atMs: Date.parse(event.occurred_at) });
      } else if (event.type === 'order.ready') {
        const a = this.accepted.get(orderId);
        if (!a) continue;
        this.accepted.delete(orderId);
        const atMs = Date.parse(event.occurred_at);
        this.prep(a.storeId, atMs, (atMs - a.atMs) / 1000);
      } else if (
        event.type === 'order.cancelled' ||
        event.type === 'order.picked_up' ||
        event.type === 'order.delivered'
      ) {
        // A lost `ready` is not replaced by the pickup here: that adds the rider's wait to the kitchen's time.
        this.accepted.delete(orderId);
      }
    }
    if (this.waiting.size > 0) void this.resolve();
  }

  private prep(storeId: string, atMs: number, seconds: number): void {
    const zone = this.zoneOf.get(storeId);
    if (typeof zone === 'string') return this.check.add(zone, atMs, seconds);
    if (zone && (this.options.now ?? Date.now)() - zone.unknownSinceMs < RETRY_UNKNOWN_MS) return;
    let w = this.waiting.get(storeId);
    if (!w) this.waiting.set(storeId, (w = []));
    if (w.length < MAX_WAITING_PER_STORE) w.push([atMs, seconds]);
  }

  /** Asks for the zones of stores with waiting samples; one request at a time. */
  resolve(): Promise<void> {
    this.resolving ??= (async () => {
      try {
        while (this.waiting.size > 0) {
          const ids = [...this.waiting.keys()];
          const zones = await this.options.resolveZones(ids);
          const now = (this.options.now ?? Date.now)();
          for (const id of ids) {
            const zone = zones.get(id);
            const samples = this.waiting.get(id) ?? [];
            this.waiting.delete(id);
            this.zoneOf.set(id, zone ?? { unknownSinceMs: now });
            if (zone) for (const [atMs, s] of samples) this.check.add(zone, atMs, s);
          }
        }
      } catch (e) {
        this.options.onError?.(e);
      } finally {
        this.resolving = undefined;
      }
    })();
    return this.resolving;
  }
}
