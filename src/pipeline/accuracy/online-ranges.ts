import type { EventLog, LogOffset, LogRecord, StartAt, Subscription } from '../../events/index.js';
import { rangeSegment } from '../../features/index.js';
import {
  OnlineSegmentedRanges,
  type OnlineSegmentState,
  type SegmentedRanges,
  type SegmentKey,
  type SegmentQuote,
} from '../../model/index.js';
import type { Logger } from '../../platform/index.js';
import {
  restoreOnlineRanges,
  segmentedRangesOf,
  type ModelRegistry,
  type OnlineRangesState,
  type Publication,
} from '../../registry/index.js';

/** Where a store is and its timezone: its orders' zone and daypart (src/features/segments.ts). */
export interface StorePlace {
  location: { lat: number; lng: number };
  timezone: string;
}

export interface OnlineRangesFeederOptions {
  log: EventLog;
  registry: ModelRegistry;
  /** Places of stores, from the catalog; a store it does not return is skipped. */
  stores: (storeIds: string[]) => Promise<Map<string, StorePlace>>;
  /** Where a feeder starts when the champion has no saved state: this much of the log. */
  replayHours: number;
  pollMs: number;
  /** How often the lease holder saves every version's state to the registry (default 1000 ms). */
  saveIntervalMs?: number;
  /** Predictors serve the state as of the latest boundary of this much log time (default 1000 ms). */
  publishIntervalMs?: number;
  /** This process, for the save lease: one feeder of the deployment saves, every one computes. */
  holder: string;
  logger: Logger;
  now?: () => number;
}

/** One row of the Accuracy view's per-segment table. */
export interface SegmentCoverage {
  model_version: string;
  zone: string;
  daypart: string;
  /** Outcomes judged by the segment's online state since the version started serving. */
  outcomes: number;
  coverage_ratio: number | null;
  /** The artifact's static factor for the segment, and the online multiplier on it now. */
  static_factor: number;
  multiplier: number;
}

interface Pending {
  quote: SegmentQuote;
  createdAtMs: number;
}

interface VersionState {
  version: string;
  ranges: SegmentedRanges;
  online: OnlineSegmentedRanges;
  /** Orders placed with this version and not yet delivered, by order id, oldest first. */
  pending: Map<string, Pending>;
  /** The state at the latest publication: what predictors serve. */
  served: OnlineSegmentState | null;
  published: Publication[];
  /** A state no outcome touched: the multiplier a cell is served before its first publication. */
  pristine: OnlineSegmentedRanges;
}

const LEASE = 'online-ranges';
/** Versions fed at once: the champion, the challenger, and orders still in flight with the ones before. */
const MAX_VERSIONS = 4;
const MAX_PENDING = 200_000;
/** A quote whose delivery never came (lost events) is dropped after this, as the accuracy join does. */
const PENDING_TTL_MS = 6 * 3_600_000;
const MAX_SEGMENT_ROWS = 500;
/** Publications kept for attributing orders: a few minutes of them. */
const MAX_PUBLICATIONS = 300;

/**
 * Feeds the per-segment online ranges from the event log: each `order.created` is the quote (the range the
 * customer was given, the median, the model version), and its `order.delivered` is judged against that range,
 * however late, with the multiplier the segment's state had when the order was placed (docs/model.md,
 * "Serving"). The state is a function of the log alone, so every feeder that starts from the same save computes
 * the same one; the lease holder saves it to the registry, where every predictor replica reads it.
 */
export class OnlineRangesFeeder {
  private readonly versions = new Map<string, VersionState | null>();
  private readonly places = new Map<string, StorePlace>();
  /** The last record applied: a resumed feeder skips up to it. */
  private offset: LogOffset | undefined;
  private savedOffset: LogOffset | undefined;
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;
  /** The latest `occurred_at` applied: the log's clock. */
  private latestEventMs = 0;
  /** The log-time boundary (in publish intervals) of the latest publication. */
  private publishedBoundary = -Infinity;
  private savedBoundary = -Infinity;

  constructor(private readonly options: OnlineRangesFeederOptions) {}

  async start(): Promise<void> {
    const { registry, log } = this.options;
    const [champion, challenger] = await Promise.all([
      registry.resolve('champion'),
      registry.resolve('challenger'),
    ]);
    let start: StartAt = { sinceMs: this.now() - this.options.replayHours * 3_600_000 };
    const saved = champion ? await registry.loadOnlineRanges(champion) : undefined;
    if (saved && (await this.restore(saved.version, saved.state))) {
      this.offset = this.savedOffset = saved.logOffset;
      start = { offset: saved.logOffset };
      // The challenger's save is taken when it was made at the same position (the same save round).
      const second = challenger ? await registry.loadOnlineRanges(challenger) : undefined;
      if (second?.logOffset === saved.logOffset) await this.restore(second.version, second.state);
    }
    this.subscription = log.subscribe(LEASE, (records) => this.apply(records), {
      start,
      ignoreCommitted: true,
      pollMs: this.options.pollMs,
      onError: (e) => this.options.logger.warn({ err: e }, 'online ranges: a batch failed; retrying'),
    });
    this.timer = setInterval(() => {
      this.publishUpTo(this.now());
      void this.save();
    }, this.options.saveIntervalMs ?? 1000);
    this.timer.unref();
  }

  caughtUp(): Promise<void> {
    return this.subscription?.caughtUp() ?? Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.subscription?.close();
    // A periodic save may be in flight with an older position: let it finish, then save the final one.
    await this.saving;
    await this.save();
    await this.options.log.releaseLease(LEASE, this.options.holder).catch(() => undefined);
  }

  /** Applies a batch in log order. Lookups come first, so a failed one redelivers a batch nothing applied. */
  async apply(records: readonly LogRecord[]): Promise<void> {
    const fresh = this.offset
      ? records.filter((r) => this.options.log.compare(r.offset, this.offset!) > 0)
      : records;
    if (fresh.length === 0) return;
    await this.prepare(fresh);
    for (const { event, ingestedAtMs } of fresh) {
      this.publishUpTo(ingestedAtMs);
      const occurredMs = Date.parse(event.occurred_at);
      if (occurredMs > this.latestEventMs) this.latestEventMs = occurredMs;
      const orderId = event.order_id;
      if (typeof orderId !== 'string') continue;
      if (event.type === 'order.created')
        this.created(orderId, event as unknown as CreatedFields, ingestedAtMs);
      else if (event.type === 'order.delivered') this.delivered(orderId, Date.parse(event.occurred_at));
      else if (event.type === 'order.cancelled') for (const v of this.states()) v.pending.delete(orderId);
    }
    this.offset = fresh.at(-1)!.offset;
    this.dropLost();
  }

  /**
   * Quotes whose delivery never came (lost events) go, by the log's clock rather than this machine's, so that
   * every feeder keeps the same ones. A delivery later than PENDING_TTL_MS is not judged (delivered), so the
   * extra hour only bounds memory.
   */
  private dropLost(): void {
    const cutoff = this.latestEventMs - PENDING_TTL_MS - 3_600_000;
    for (const v of this.states())
      for (const [id, p] of v.pending) {
        if (p.createdAtMs >= cutoff) break;
        v.pending.delete(id);
      }
  }

  /** Forgotten orders: their quotes go. The states hold no order. */
  forgetOrders(orderIds: Iterable<string>): void {
    for (const id of orderIds) for (const v of this.states()) v.pending.delete(id);
  }

  /** Coverage per segment of every version fed, busiest segments first. */
  summary(): SegmentCoverage[] {
    const rows: SegmentCoverage[] = [];
    for (const v of this.states())
      for (const cell of v.online.summary()) {
        const segment = segmentOf(v.ranges, cell.cell);
        rows.push({
          model_version: v.version,
          zone: cell.cell[0] ?? '',
          daypart: cell.cell[1] ?? '',
          outcomes: cell.observed,
          coverage_ratio: cell.observed > 0 ? round(cell.coverage) : null,
          static_factor: round(v.ranges.factorFor(segment)),
          multiplier: round(cell.multiplier),
        });
      }
    return rows.sort((a, b) => b.outcomes - a.outcomes).slice(0, MAX_SEGMENT_ROWS);
  }

  /** The state of one version, for tests and the summary. */
  stateOf(version: string): OnlineSegmentedRanges | undefined {
    return this.versions.get(version)?.online;
  }

  /** Saves every version's state at the current position, when this feeder holds the lease and it moved. */
  save(): Promise<void> {
    this.saving ??= this.saveOnce()
      .catch((e: unknown) => this.options.logger.warn({ err: e }, 'online ranges: save failed; retrying'))
      .finally(() => {
        this.saving = undefined;
      });
    return this.saving;
  }

  private async saveOnce(): Promise<void> {
    const offset = this.offset;
    const boundary = this.publishedBoundary;
    if (offset === undefined || (offset === this.savedOffset && boundary === this.savedBoundary)) return;
    const ttl = Math.max(5_000, 3 * (this.options.saveIntervalMs ?? 1000));
    if (!(await this.options.log.claimLease(LEASE, this.options.holder, ttl))) return;
    for (const v of this.states()) {
      const state: OnlineRangesState = {
        format: 'etaserve-online-ranges',
        online: v.online.toJSON(),
        pending: [...v.pending].map(([order, p]) => ({ order, ...p })),
        served: v.served,
        published: v.published,
      };
      await this.options.registry.saveOnlineRanges({ version: v.version, state, logOffset: offset });
    }
    this.savedOffset = offset;
    this.savedBoundary = boundary;
  }

  /**
   * Publishes every state once log time `atMs` passes a boundary: records and this feeder's clock both move it,
   * and nothing is applied between the last record before a boundary and the first after it, so every feeder
   * publishes the same states at the same boundaries.
   */
  private publishUpTo(atMs: number): void {
    const boundary = Math.floor(atMs / this.publishMs());
    if (!(boundary > this.publishedBoundary)) return;
    this.publishedBoundary = boundary;
    for (const v of this.states()) {
      const multipliers: Record<string, number> = {};
      for (const cell of v.online.summary()) multipliers[JSON.stringify(cell.cell)] = cell.multiplier;
      v.served = v.online.toJSON();
      v.published.push({ atMs: boundary * this.publishMs(), multipliers });
      if (v.published.length > MAX_PUBLICATIONS) v.published.shift();
    }
  }

  /**
   * The multiplier an order's range was most likely given with: the publication in effect a little before the
   * order reached the log (predictors load a publication within a save and a poll, and a customer orders after
   * the quote). Assuming the state's newest multiplier instead would judge a range quoted before a widening as
   * if it had been widened already: its score comes out inflated, which widens the state further, and so on.
   */
  private servedMultiplier(v: VersionState, cell: string[], ingestedAtMs: number): number {
    const key = JSON.stringify(cell);
    const before = ingestedAtMs - 2 * this.publishMs();
    for (let i = v.published.length - 1; i >= 0; i--) {
      const p = v.published[i]!;
      if (p.atMs > before) continue;
      const m = p.multipliers[key];
      if (m !== undefined) return m;
      break;
    }
    const segment = Object.fromEntries(cell.map((label, c) => [v.ranges.columns[c]!, label]));
    const r = v.ranges;
    const outputs = new Float64Array(Math.max(r.lowerIndex, r.medianIndex, r.upperIndex) + 1);
    return v.pristine.quote(outputs, segment).multiplier;
  }

  private publishMs(): number {
    return this.options.publishIntervalMs ?? 1000;
  }

  private async restore(version: string, saved: unknown): Promise<boolean> {
    const ranges = await this.rangesOf(version);
    if (!ranges) return false;
    try {
      const { online, pending, published } = restoreOnlineRanges(saved, ranges);
      this.versions.set(version, {
        ...fresh(version, ranges),
        online,
        pending: new Map(pending.map(({ order, quote, createdAtMs }) => [order, { quote, createdAtMs }])),
        served: (saved as OnlineRangesState).served,
        published,
      });
      const last = published.at(-1);
      if (last) this.publishedBoundary = Math.max(this.publishedBoundary, last.atMs / this.publishMs());
      return true;
    } catch (e) {
      this.options.logger.warn({ err: e, version }, 'online ranges: saved state refused; starting afresh');
      return false;
    }
  }

  /** Places of the batch's new stores and ranges of its new versions. */
  private async prepare(records: readonly LogRecord[]): Promise<void> {
    const created = records.filter((r) => r.event.type === 'order.created').map((r) => r.event);
    const stores = new Set<string>();
    for (const e of created) {
      const version = e.model_version;
      if (typeof version === 'string' && !this.versions.has(version)) await this.addVersion(version);
      if (
        typeof e.store_id === 'string' &&
        this.versions.get(version as string) &&
        !this.places.has(e.store_id)
      )
        stores.add(e.store_id);
    }
    if (stores.size > 0)
      for (const [id, place] of await this.options.stores([...stores])) this.places.set(id, place);
  }

  /** A version first seen (or seen again after it was let go): from its save when it has one, else fresh. */
  private async addVersion(version: string): Promise<void> {
    const ranges = await this.rangesOf(version);
    const saved = ranges ? await this.options.registry.loadOnlineRanges(version) : undefined;
    if (!(saved && (await this.restore(version, saved.state))))
      this.versions.set(version, ranges ? fresh(version, ranges) : null);
    // The oldest version goes: its orders were placed before the versions after it served.
    const fed = [...this.versions.keys()];
    if (fed.length > MAX_VERSIONS * 4) this.versions.delete(fed[0]!);
    const states = [...this.versions].filter(([, v]) => v !== null);
    if (states.length > MAX_VERSIONS) this.versions.delete(states[0]![0]);
  }

  /** The version's static segment ranges; undefined for a version without them or unknown here (a fallback). */
  private async rangesOf(version: string): Promise<SegmentedRanges | undefined> {
    try {
      const artifact = (await this.options.registry.loadArtifact(version)) as {
        outputs?: Array<{ name: string }>;
        calibration?: Parameters<typeof segmentedRangesOf>[0];
      };
      return segmentedRangesOf(
        artifact.calibration,
        (artifact.outputs ?? []).map((o) => o.name),
      );
    } catch {
      return undefined;
    }
  }

  private created(orderId: string, e: CreatedFields, ingestedAtMs: number): void {
    const v = this.versions.get(e.model_version);
    const place = this.places.get(e.store_id);
    if (!v || !place || v.pending.has(orderId)) return;
    const createdAtMs = Date.parse(e.occurred_at);
    const { zone, daypart } = rangeSegment(place, createdAtMs);
    const segment: SegmentKey = { zone, daypart };
    const [low, high] = e.quoted_range_seconds;
    const median = e.quoted_eta_seconds;
    if (!(low <= median && median <= high)) return;
    // The state's quote counts the order in flight and gives the segment's static factor; the range is the one
    // the customer got, given with the multiplier served then.
    const r = v.ranges;
    const probe = new Float64Array(Math.max(r.lowerIndex, r.medianIndex, r.upperIndex) + 1);
    probe[r.lowerIndex] = low;
    probe[r.medianIndex] = median;
    probe[r.upperIndex] = high;
    const at = v.online.quote(probe, segment);
    const multiplier = this.servedMultiplier(v, at.cell, ingestedAtMs);
    const factor = at.cellFactor * multiplier;
    const unscale = (side: number): number => (factor > 0 ? median + (side - median) / factor : side);
    const quote: SegmentQuote = {
      ...at,
      multiplier,
      factor,
      lower: low,
      upper: high,
      baseLower: unscale(low),
      baseUpper: unscale(high),
    };
    if (this.pendingCount() >= MAX_PENDING) v.pending.delete(v.pending.keys().next().value!);
    v.pending.set(orderId, { quote, createdAtMs });
  }

  private delivered(orderId: string, atMs: number): void {
    for (const v of this.states()) {
      const p = v.pending.get(orderId);
      if (!p) continue;
      v.pending.delete(orderId);
      const seconds = (atMs - p.createdAtMs) / 1000;
      if (seconds > 0 && seconds * 1000 <= PENDING_TTL_MS) v.online.observe(p.quote, seconds);
      return;
    }
  }

  private *states(): Iterable<VersionState> {
    for (const v of this.versions.values()) if (v) yield v;
  }

  private pendingCount(): number {
    let n = 0;
    for (const v of this.states()) n += v.pending.size;
    return n;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

function fresh(version: string, ranges: SegmentedRanges): VersionState {
  return {
    version,
    ranges,
    online: new OnlineSegmentedRanges(ranges),
    pending: new Map(),
    served: null,
    published: [],
    pristine: new OnlineSegmentedRanges(ranges),
  };
}

function segmentOf(ranges: SegmentedRanges, cell: readonly string[]): SegmentKey {
  return Object.fromEntries(cell.map((label, c) => [ranges.columns[c]!, label]));
}

const round = (v: number): number => Math.round(v * 1e4) / 1e4;

interface CreatedFields {
  occurred_at: string;
  store_id: string;
  quoted_eta_seconds: number;
  quoted_range_seconds: [number, number];
  model_version: string;
}
