import type { LatLng } from '../features/index.js';

/** The stages of an order's life, in order; `cancelled` ends it at any point. */
export const STAGES = ['created', 'accepted', 'ready', 'picked_up', 'delivered', 'cancelled'] as const;
export type Stage = (typeof STAGES)[number];

const RANK: Record<Stage, number> = {
  created: 0,
  accepted: 1,
  ready: 2,
  picked_up: 3,
  delivered: 4,
  cancelled: 5,
};

export const isFinal = (stage: Stage): boolean => stage === 'delivered' || stage === 'cancelled';

/** What the gateway quoted at checkout (`order.created`). */
export interface Quote {
  p10Seconds: number;
  p50Seconds: number;
  p90Seconds: number;
  promisedAtMs: number;
  modelVersion: string;
}

export interface RiderPosition extends LatLng {
  atMs: number;
}

/** One active (or recently finished) order, as the events tell it. */
export interface OrderLife {
  orderId: string;
  storeId: string;
  destination: LatLng | undefined;
  /** Undefined until `order.created` arrives (a stage event may come first). */
  quote: Quote | undefined;
  createdAtMs: number | undefined;
  stage: Stage;
  /** When each stage reached so far began, by `occurred_at`. */
  stageAtMs: Partial<Record<Stage, number>>;
  riderId: string | undefined;
  /** Bumped on every change, so watchers know when to answer again. */
  revision: number;
}

export interface OrderEvent {
  type: string;
  occurredAtMs: number;
  orderId?: string;
  storeId?: string;
  riderId?: string;
  destination?: LatLng;
  quote?: Quote;
  position?: LatLng;
}

const STAGE_OF: Record<string, Stage> = {
  'order.created': 'created',
  'order.accepted': 'accepted',
  'order.ready': 'ready',
  'order.picked_up': 'picked_up',
  'order.delivered': 'delivered',
  'order.cancelled': 'cancelled',
};

export interface OrderBookOptions {
  /** How long a delivered or cancelled order still answers with its final state. */
  keepFinishedMs: number;
  /** An order that never finishes is dropped this long after it was created (a lost `delivered`). */
  maxLifeMs: number;
}

/**
 * Every active order and the latest position of each rider carrying one, built from the event log. Events are placed
 * by `occurred_at`, whatever their arrival order: the stage is the furthest one reached (the life only moves
 * forward), each stage keeps the time it happened, and a late rider position never replaces a newer one.
 */
export class OrderBook {
  private readonly orders = new Map<string, OrderLife>();
  private readonly riders = new Map<string, RiderPosition>();
  /** Rider -> the active orders they carry (a rider may carry two). */
  private readonly carried = new Map<string, Set<string>>();

  constructor(private readonly options: OrderBookOptions) {}

  get size(): number {
    return this.orders.size;
  }

  get(orderId: string): OrderLife | undefined {
    return this.orders.get(orderId);
  }

  riderPosition(riderId: string | undefined): RiderPosition | undefined {
    return riderId === undefined ? undefined : this.riders.get(riderId);
  }

  /** Applies one event; returns the ids of the orders it changed. */
  apply(event: OrderEvent): string[] {
    if (event.type === 'rider.location') return event.riderId ? this.moveRider(event) : [];
    const stage = STAGE_OF[event.type];
    if (!event.orderId || (!stage && event.type !== 'order.rider_assigned')) return [];
    const order = this.lifeOf(event.orderId, event.storeId);
    if (!order) return [];
    if (event.riderId && order.riderId !== event.riderId) this.assign(order, event.riderId);
    if (event.type === 'order.created') {
      order.destination = event.destination ?? order.destination;
      order.quote = event.quote ?? order.quote;
      order.createdAtMs = event.occurredAtMs;
    }
    if (stage) {
      const at = order.stageAtMs[stage];
      if (at === undefined || event.occurredAtMs < at) order.stageAtMs[stage] = event.occurredAtMs;
      if (order.stage !== 'cancelled' && RANK[stage] > RANK[order.stage]) order.stage = stage;
      if (isFinal(order.stage)) this.release(order);
    }
    order.revision++;
    return [order.orderId];
  }

  /** Finished longer ago than `keepFinishedMs`, or created longer ago than `maxLifeMs`: no longer followed. */
  expired(order: OrderLife, nowMs: number): boolean {
    const finishedAt = isFinal(order.stage) ? (order.stageAtMs[order.stage] ?? nowMs) : undefined;
    return (
      (finishedAt !== undefined && nowMs - finishedAt > this.options.keepFinishedMs) ||
      (order.createdAtMs !== undefined && nowMs - order.createdAtMs > this.options.maxLifeMs)
    );
  }

  /** Drops the expired orders, and riders nobody carries who have not been seen for `keepFinishedMs`. */
  sweep(nowMs: number): number {
    let dropped = 0;
    for (const order of this.orders.values()) {
      if (!this.expired(order, nowMs)) continue;
      this.release(order);
      this.orders.delete(order.orderId);
      dropped++;
    }
    for (const [riderId, position] of this.riders)
      if (!this.carried.has(riderId) && nowMs - position.atMs > this.options.keepFinishedMs)
        this.riders.delete(riderId);
    return dropped;
  }

  /** A forgotten customer's orders leave the book. */
  forget(orderIds: readonly string[]): number {
    let dropped = 0;
    for (const id of orderIds) {
      const order = this.orders.get(id);
      if (!order) continue;
      this.release(order);
      this.orders.delete(id);
      dropped++;
    }
    return dropped;
  }

  /** Active orders, for the console's list. */
  *active(): IterableIterator<OrderLife> {
    for (const order of this.orders.values()) if (!isFinal(order.stage)) yield order;
  }

  private lifeOf(orderId: string, storeId: string | undefined): OrderLife | undefined {
    const known = this.orders.get(orderId);
    if (known) return known;
    if (!storeId) return undefined;
    const order: OrderLife = {
      orderId,
      storeId,
      destination: undefined,
      quote: undefined,
      createdAtMs: undefined,
      stage: 'created',
      stageAtMs: {},
      riderId: undefined,
      revision: 0,
    };
    this.orders.set(orderId, order);
    return order;
  }

  private assign(order: OrderLife, riderId: string): void {
    this.release(order);
    order.riderId = riderId;
    if (isFinal(order.stage)) return;
    let set = this.carried.get(riderId);
    if (!set) this.carried.set(riderId, (set = new Set()));
    set.add(order.orderId);
  }

  private release(order: OrderLife): void {
    if (order.riderId === undefined) return;
    const set = this.carried.get(order.riderId);
    set?.delete(order.orderId);
    if (set?.size === 0) this.carried.delete(order.riderId);
  }

  private moveRider(event: OrderEvent): string[] {
    const riderId = event.riderId!;
    const orders = this.carried.get(riderId);
    // Only riders carrying an order matter here; geo keeps everyone's supply.
    if (!orders || !event.position) return [];
    const last = this.riders.get(riderId);
    if (last && last.atMs >= event.occurredAtMs) return [];
    this.riders.set(riderId, { ...event.position, atMs: event.occurredAtMs });
    for (const id of orders) this.orders.get(id)!.revision++;
    return [...orders];
  }
}
