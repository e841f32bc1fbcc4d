import type { SimulatedOrder } from './history.js';

type Times = 'created' | 'accepted' | 'ready' | 'pickedUp' | 'delivered' | 'cancelled';

/**
 * Orders as columns, in creation order: a million orders in ~120 MB of typed arrays instead of a million objects
 * (~450 MB of heap the garbage collector walks). A timestamp that never happened is NaN. Ids are stored once: order
 * ids as UTF-8 bytes, store and rider ids as dictionaries. `get(i)` and iteration build an order object on demand,
 * for code off the hot path; training reads the columns.
 */
export class OrderTable implements Iterable<SimulatedOrder> {
  private constructor(
    readonly length: number,
    private readonly idBytes: Buffer,
    /** Order i's id is idBytes[idEnd[i - 1] .. idEnd[i]). */
    private readonly idEnd: Uint32Array,
    readonly storeIds: readonly string[],
    readonly store: Int32Array,
    readonly riderIds: readonly string[],
    /** -1: no rider. */
    readonly rider: Int32Array,
    readonly destLat: Float64Array,
    readonly destLng: Float64Array,
    readonly items: Float64Array,
    readonly subtotal: Float64Array,
    readonly createdAtMs: Float64Array,
    readonly acceptedAtMs: Float64Array,
    readonly readyAtMs: Float64Array,
    readonly pickedUpAtMs: Float64Array,
    readonly deliveredAtMs: Float64Array,
    readonly cancelledAtMs: Float64Array,
    readonly cancelled: Uint8Array,
  ) {}

  static builder(capacity = 1024): OrderTableBuilder {
    return new OrderTableBuilder(capacity);
  }

  static from(orders: Iterable<SimulatedOrder>): OrderTable {
    const b = new OrderTableBuilder(1024);
    for (const o of orders) b.push(o);
    return b.finish();
  }

  /** @internal the builder's columns, trimmed to `length`. */
  static of(
    c: Columns,
    length: number,
    ids: Buffer,
    idEnd: Uint32Array,
    storeIds: string[],
    riderIds: string[],
  ) {
    // A nearly full column is kept as a view: copying a million-row column would double it for a moment.
    const cut = <T extends Float64Array | Int32Array | Uint32Array | Uint8Array>(a: T): T =>
      (length >= a.length * 0.8 ? a.subarray(0, length) : a.slice(0, length)) as T;
    return new OrderTable(
      length,
      ids,
      cut(idEnd),
      storeIds,
      cut(c.store),
      riderIds,
      cut(c.rider),
      cut(c.destLat),
      cut(c.destLng),
      cut(c.items),
      cut(c.subtotal),
      cut(c.created),
      cut(c.accepted),
      cut(c.ready),
      cut(c.pickedUp),
      cut(c.delivered),
      cut(c.cancelledAt),
      cut(c.cancelled),
    );
  }

  orderId(i: number): string {
    return this.idBytes.toString('utf8', i === 0 ? 0 : this.idEnd[i - 1], this.idEnd[i]);
  }

  storeId(i: number): string {
    return this.storeIds[this.store[i]!]!;
  }

  /** Order i as an object: a new one on every call. */
  get(i: number): SimulatedOrder {
    const t = (a: Float64Array): number | null => (Number.isNaN(a[i]!) ? null : a[i]!);
    const rider = this.rider[i]!;
    return {
      order_id: this.orderId(i),
      store_id: this.storeId(i),
      rider_id: rider < 0 ? null : this.riderIds[rider]!,
      destination: { lat: this.destLat[i]!, lng: this.destLng[i]! },
      items: this.items[i]!,
      subtotal: this.subtotal[i]!,
      created_at_ms: this.createdAtMs[i]!,
      accepted_at_ms: t(this.acceptedAtMs),
      ready_at_ms: t(this.readyAtMs),
      picked_up_at_ms: t(this.pickedUpAtMs),
      delivered_at_ms: t(this.deliveredAtMs),
      cancelled: this.cancelled[i] === 1,
      cancelled_at_ms: t(this.cancelledAtMs),
    };
  }

  *[Symbol.iterator](): Iterator<SimulatedOrder> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}

interface Columns {
  store: Int32Array;
  rider: Int32Array;
  destLat: Float64Array;
  destLng: Float64Array;
  items: Float64Array;
  subtotal: Float64Array;
  created: Float64Array;
  accepted: Float64Array;
  ready: Float64Array;
  pickedUp: Float64Array;
  delivered: Float64Array;
  cancelledAt: Float64Array;
  cancelled: Uint8Array;
}

const orNaN = (v: number | null | undefined): number => (v === null || v === undefined ? Number.NaN : v);

/** Appends orders one by one into growing columns; `finish` trims them into an `OrderTable`. */
export class OrderTableBuilder {
  private c: Columns;
  private ids: Buffer;
  private idEnd: Uint32Array;
  private idBytes = 0;
  private n = 0;
  private readonly storeIds: string[] = [];
  private readonly storeIndex = new Map<string, number>();
  private readonly riderIds: string[] = [];
  private readonly riderIndex = new Map<string, number>();

  constructor(private capacity: number) {
    this.c = columns(capacity);
    this.ids = Buffer.allocUnsafe(capacity * 12);
    this.idEnd = new Uint32Array(capacity);
  }

  get length(): number {
    return this.n;
  }

  push(o: SimulatedOrder): void {
    const times: Record<Times, number | null> = {
      created: o.created_at_ms,
      accepted: o.accepted_at_ms,
      ready: o.ready_at_ms,
      pickedUp: o.picked_up_at_ms,
      delivered: o.delivered_at_ms,
      cancelled: o.cancelled_at_ms,
    };
    this.pushColumns(o.order_id, o.store_id, o.rider_id, o.destination.lat, o.destination.lng, o, times);
    this.c.cancelled[this.n - 1] = o.cancelled ? 1 : 0;
  }

  /** One order from loose values (a database row), without building an order object first; cancelled when it has a cancellation time. */
  pushColumns(
    orderId: string,
    storeId: string,
    riderId: string | null,
    destLat: number,
    destLng: number,
    basket: { items: number; subtotal: number },
    times: Record<Times, number | null>,
  ): void {
    if (this.n === this.capacity) this.grow();
    const i = this.n++;
    const c = this.c;
    const idLength = Buffer.byteLength(orderId);
    while (this.idBytes + idLength > this.ids.length) {
      const bigger = Buffer.allocUnsafe(this.ids.length * 2);
      this.ids.copy(bigger, 0, 0, this.idBytes);
      this.ids = bigger;
    }
    this.idBytes += this.ids.write(orderId, this.idBytes);
    this.idEnd[i] = this.idBytes;
    c.store[i] = indexOf(storeId, this.storeIds, this.storeIndex);
    c.rider[i] = riderId === null ? -1 : indexOf(riderId, this.riderIds, this.riderIndex);
    c.destLat[i] = destLat;
    c.destLng[i] = destLng;
    c.items[i] = basket.items;
    c.subtotal[i] = basket.subtotal;
    c.created[i] = orNaN(times.created);
    c.accepted[i] = orNaN(times.accepted);
    c.ready[i] = orNaN(times.ready);
    c.pickedUp[i] = orNaN(times.pickedUp);
    c.delivered[i] = orNaN(times.delivered);
    c.cancelledAt[i] = orNaN(times.cancelled);
    c.cancelled[i] = times.cancelled !== null ? 1 : 0;
  }

  finish(): OrderTable {
    const ids = Buffer.from(this.ids.subarray(0, this.idBytes));
    return OrderTable.of(this.c, this.n, ids, this.idEnd, this.storeIds, this.riderIds);
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const next = columns(capacity);
    for (const key of Object.keys(next) as Array<keyof Columns>) next[key].set(this.c[key] as never);
    this.c = next;
    const idEnd = new Uint32Array(capacity);
    idEnd.set(this.idEnd);
    this.idEnd = idEnd;
    this.capacity = capacity;
  }
}

function columns(n: number): Columns {
  return {
    store: new Int32Array(n),
    rider: new Int32Array(n),
    destLat: new Float64Array(n),
    destLng: new Float64Array(n),
    items: new Float64Array(n),
    subtotal: new Float64Array(n),
    created: new Float64Array(n),
    accepted: new Float64Array(n),
    ready: new Float64Array(n),
    pickedUp: new Float64Array(n),
    delivered: new Float64Array(n),
    cancelledAt: new Float64Array(n),
    cancelled: new Uint8Array(n),
  };
}

function indexOf(id: string, ids: string[], index: Map<string, number>): number {
  let k = index.get(id);
  if (k === undefined) {
    k = ids.length;
    ids.push(id);
    index.set(id, k);
  }
  return k;
}
