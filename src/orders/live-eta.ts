import type { LatLng, StoreSnapshot, TripSnapshot } from '../features/index.js';
import { isFinal, type OrderLife, type RiderPosition, type Stage } from './book.js';
import { QuantileDistribution } from './distribution.js';

/** The remaining time of an order from now, as a distribution, and its chance of missing the promised time. */
export interface Remaining {
  p10Seconds: number;
  p50Seconds: number;
  p90Seconds: number;
  /** P(delivered after promised_at). */
  pLate: number;
  /** Median seconds of each leg still ahead (`prep`, `pickup`, `ride`), where the model has legs. */
  legs: Record<string, number>;
  modelVersion: string;
  /** Why the answer is less than the model's (no leg model: the checkout quote conditioned on elapsed time). */
  degradedReasons: string[];
}

/**
 * What the checkout knew, captured when the order is first seen: the store's features and the trip to the door,
 * the inputs of the checkout model, so the leg models read the same point-in-time view.
 */
export interface CheckoutContext {
  store: { storeId: string; location: LatLng } & StoreSnapshot;
  trip: TripSnapshot;
}

export interface OrderContext {
  order: OrderLife;
  rider: RiderPosition | undefined;
  /** Undefined until the store and geo answered for the order (or when they could not). */
  checkout: CheckoutContext | undefined;
  nowMs: number;
}

/** What predicts the remaining time: the per-leg models when trained, else the quote. */
export interface RemainingTimeModel {
  readonly version: string;
  remaining(context: OrderContext): Remaining | undefined;
}

/**
 * The baseline, and the answer when no leg model is loaded: the checkout quote's distribution of the total time,
 * conditioned on the order not being delivered yet. It moves with the clock, never with what happens to the order.
 */
export const quoteOnly: RemainingTimeModel = {
  version: 'quote',
  remaining({ order, nowMs }) {
    const { quote, createdAtMs } = order;
    if (!quote || createdAtMs === undefined) return undefined;
    const total = new QuantileDistribution(quote.p10Seconds, quote.p50Seconds, quote.p90Seconds);
    const elapsed = Math.max(0, (nowMs - createdAtMs) / 1000);
    const left = total.given(elapsed, (quote.promisedAtMs - createdAtMs) / 1000);
    return {
      p10Seconds: left.p10,
      p50Seconds: left.p50,
      p90Seconds: left.p90,
      pLate: left.pOver,
      legs: {},
      modelVersion: quote.modelVersion,
      degradedReasons: ['no_leg_model'],
    };
  },
};

/** How far the shown ETA may move between two stage changes (docs/orders.md, "Smooth updates"). */
export interface SmoothingPolicy {
  /** Seconds the shown arrival time may move per minute of wall time, between stage changes. */
  maxShiftSecondsPerMinute: number;
  /** A move smaller than this is not shown at all (jitter). */
  deadbandSeconds: number;
}

/** One order's live ETA: what the API, the stream and the console show. */
export interface LiveEta {
  orderId: string;
  storeId: string;
  stage: Stage;
  /** When it arrives (or arrived): epoch ms. */
  etaAtMs: number;
  remainingSeconds: number;
  rangeAtMs: [number, number];
  promisedAtMs: number | undefined;
  pLate: number;
  updatedAtMs: number;
  modelVersion: string;
  degraded: boolean;
  degradedReasons: string[];
  legs: Record<string, number>;
  /** The store's time zone, for times with its offset. */
  timezone: string | undefined;
  /** Bumped whenever the answer changes: the stream's message id. */
  sequence: number;
}

/** Where an order is on a map: with its rider once picked up (their latest position), else at its store. */
export interface OrderPosition extends LatLng {
  source: 'rider' | 'store';
}

/** An active order's live ETA with where it is and where it goes: the console's list and map. */
export interface ActiveOrder extends LiveEta {
  /** Null when neither is known yet (no rider position, and the store has not answered for the order). */
  position: OrderPosition | null;
  destination: LatLng | null;
}

/**
 * The order's place on the map: the rider's latest position once they have the food, otherwise the store (the
 * food is there until pickup, and a picked-up order whose rider has not reported yet was last seen there).
 */
export function orderPosition(
  order: OrderLife,
  rider: RiderPosition | undefined,
  checkout: CheckoutContext | undefined,
): OrderPosition | null {
  if (order.stage === 'picked_up' && rider) return { lat: rider.lat, lng: rider.lng, source: 'rider' };
  const store = checkout?.store.location;
  return store ? { lat: store.lat, lng: store.lng, source: 'store' } : null;
}

interface Shown {
  stage: Stage;
  etaAtMs: number;
  atMs: number;
  sequence: number;
}

/**
 * Turns the model's remaining time into the ETA a customer watches. Between stage changes the shown arrival time
 * moves toward the model's at a bounded speed, so a noisy rider position does not make it jump; at a stage change it
 * takes the model's at once (the customer sees the food ready, or picked up); a delivered order stops at its
 * delivery time and a cancelled one at its cancellation.
 */
export class LiveEtaTracker {
  private readonly shown = new Map<string, Shown>();

  constructor(
    private readonly model: () => RemainingTimeModel,
    private readonly policy: SmoothingPolicy,
  ) {}

  update(context: OrderContext): LiveEta | undefined {
    const { order, nowMs } = context;
    const last = this.shown.get(order.orderId);
    if (isFinal(order.stage)) return this.final(context, last);
    const model = this.model();
    const remaining = model.remaining(context) ?? quoteOnly.remaining(context);
    if (!remaining) return undefined;
    const target = nowMs + remaining.p50Seconds * 1000;
    let etaAtMs = target;
    if (last && last.stage === order.stage) {
      const allowed = (this.policy.maxShiftSecondsPerMinute * Math.max(0, nowMs - last.atMs)) / 60;
      const shift = (target - last.etaAtMs) / 1000;
      if (Math.abs(shift) < this.policy.deadbandSeconds) etaAtMs = last.etaAtMs;
      else etaAtMs = last.etaAtMs + Math.sign(shift) * Math.min(Math.abs(shift), allowed) * 1000;
    }
    // Never in the past while the order is on its way.
    etaAtMs = Math.max(etaAtMs, nowMs);
    const changed = !last || last.etaAtMs !== etaAtMs || last.stage !== order.stage;
    const sequence = (last?.sequence ?? 0) + (changed ? 1 : 0);
    this.shown.set(order.orderId, {
      stage: order.stage,
      etaAtMs,
      atMs: changed ? nowMs : last!.atMs,
      sequence,
    });
    const offset = etaAtMs - target;
    return {
      orderId: order.orderId,
      storeId: order.storeId,
      stage: order.stage,
      etaAtMs,
      remainingSeconds: (etaAtMs - nowMs) / 1000,
      rangeAtMs: [
        Math.max(nowMs, nowMs + remaining.p10Seconds * 1000 + Math.min(0, offset)),
        nowMs + remaining.p90Seconds * 1000 + Math.max(0, offset),
      ],
      promisedAtMs: order.quote?.promisedAtMs,
      pLate: remaining.pLate,
      updatedAtMs: nowMs,
      modelVersion: remaining.modelVersion,
      degraded: remaining.degradedReasons.length > 0,
      degradedReasons: remaining.degradedReasons,
      legs: remaining.legs,
      timezone: context.checkout?.store.timezone,
      sequence,
    };
  }

  /** An order that left the book: its smoothing state goes too. */
  forget(orderId: string): void {
    this.shown.delete(orderId);
  }

  private final(context: OrderContext, last: Shown | undefined): LiveEta {
    const { order, nowMs } = context;
    const endedAtMs = order.stageAtMs[order.stage] ?? nowMs;
    const sequence = (last?.sequence ?? 0) + (last?.stage === order.stage ? 0 : 1);
    this.shown.set(order.orderId, { stage: order.stage, etaAtMs: endedAtMs, atMs: nowMs, sequence });
    const promisedAtMs = order.quote?.promisedAtMs;
    return {
      orderId: order.orderId,
      storeId: order.storeId,
      stage: order.stage,
      etaAtMs: endedAtMs,
      remainingSeconds: 0,
      rangeAtMs: [endedAtMs, endedAtMs],
      promisedAtMs,
      // Known now: late or not (a cancelled order was never delivered late).
      pLate: order.stage === 'delivered' && promisedAtMs !== undefined && endedAtMs > promisedAtMs ? 1 : 0,
      updatedAtMs: endedAtMs,
      modelVersion: order.quote?.modelVersion ?? 'none',
      degraded: false,
      degradedReasons: [],
      legs: {},
      timezone: context.checkout?.store.timezone,
      sequence,
    };
  }
}
