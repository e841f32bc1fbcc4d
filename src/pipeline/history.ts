import type { LatLng } from '../features/index.js';
import type { NewStore } from '../store/index.js';

// The pipeline's own input types. Any source (a CSV, the lake, the simulator) produces them; the simulator's
// OrderTable and RiderPings satisfy them structurally, so the pipeline does not depend on the simulator's types.

/** One order's lifecycle; a time that never happened is null. */
export interface HistoryOrder {
  order_id: string;
  store_id: string;
  rider_id: string | null;
  destination: LatLng;
  items: number;
  subtotal: number;
  created_at_ms: number;
  accepted_at_ms: number | null;
  ready_at_ms: number | null;
  picked_up_at_ms: number | null;
  delivered_at_ms: number | null;
  cancelled: boolean;
  cancelled_at_ms: number | null;
}

/**
 * Orders as columns, in creation order (a million orders as objects would be most of the heap). A time that never
 * happened is NaN. `get(i)` and iteration build an order object, for code off the hot path.
 */
export interface OrderColumns extends Iterable<HistoryOrder> {
  readonly length: number;
  readonly storeIds: readonly string[];
  /** Index into storeIds. */
  readonly store: Int32Array;
  readonly destLat: Float64Array;
  readonly destLng: Float64Array;
  readonly items: Float64Array;
  readonly subtotal: Float64Array;
  readonly createdAtMs: Float64Array;
  readonly acceptedAtMs: Float64Array;
  readonly readyAtMs: Float64Array;
  readonly pickedUpAtMs: Float64Array;
  readonly deliveredAtMs: Float64Array;
  readonly cancelledAtMs: Float64Array;
  orderId(i: number): string;
  storeId(i: number): string;
  get(i: number): HistoryOrder;
}

/** Rider positions over time, as columns. */
export interface RiderPings {
  riderIds: string[];
  count: number;
  /** Index into riderIds. */
  rider: Int32Array;
  atMs: Float64Array;
  lat: Float64Array;
  lng: Float64Array;
  /** 1 = on shift and free */
  available: Uint8Array;
}

/**
 * What a training table needs of a history: the catalog, the orders with their timestamps, rider positions. Orders
 * and pings are columns (no object per row), so a million orders train in well under a gigabyte.
 */
export interface OrderHistory {
  stores: ReadonlyArray<Pick<NewStore, 'storeId' | 'location' | 'category' | 'timezone' | 'prepProfile'>>;
  orders: OrderColumns;
  riderPings?: RiderPings;
}
