import { Value } from 'typebox/value';
import { buildFeatureVector, FEATURE_COUNT, FEATURE_SPEC, type LatLng } from '../features/index.js';
import {
  geoConfigSchema,
  learnZoneSpeeds,
  RiderSupply,
  TravelEstimator,
  type GeoConfig,
  type ObservedTrip,
  type ZoneSpeedTable,
  type ZoneSpeedTableJson,
} from '../geo/index.js';
import type { FeatureSpec } from '../model/index.js';
import type { RiderPings, SimulatedOrder } from '../simulator/index.js';
import { LiveState, storeConfigSchema, type NewStore, type StoreConfig } from '../store/index.js';

/** What a training table needs of a history: the catalog, the orders with their timestamps, rider positions. */
export interface OrderHistory {
  stores: ReadonlyArray<Pick<NewStore, 'storeId' | 'location' | 'category' | 'timezone' | 'prepProfile'>>;
  orders: readonly SimulatedOrder[];
  riderPings?: RiderPings;
}

export interface TrainingTable {
  spec: FeatureSpec[];
  /** FEATURE_SPEC order, one value per row: column-major, no object per row. */
  columns: Float64Array[];
  /** delivered − created, seconds */
  target: Float64Array;
  createdAtMs: Float64Array;
  /** Index into history.orders of each row. */
  orderIndex: Int32Array;
  nRows: number;
}

export interface TrainingTableOptions {
  speeds: ZoneSpeedTable;
  /** Geo settings (detour, handoff); defaults are the geo module's. */
  geo?: Partial<GeoConfig>;
  /** Store settings (EWMA alpha, kitchen TTL); defaults are the store module's. */
  store?: Partial<StoreConfig>;
  /** A rider counts as present this long after a ping; default: geo's `riderTtlSeconds`, as online. */
  riderTtlMs?: number;
  /** Rows only for orders created in [fromMs, toMs); state still builds from everything before. */
  fromMs?: number;
  toMs?: number;
}

// Event kinds in the order they apply at one instant: a row at time t sees only what happened strictly before t.
const ROW = 0;
const ACCEPTED = 1;
const LEFT_KITCHEN = 2;

/**
 * One row per delivered order, with every feature as it was known when the order was created. The history is
 * replayed in time order through the same code that serves online: the store module's `LiveState` (orders in the
 * kitchen, prep EWMA per hour of week) and geo's `RiderSupply` and `TravelEstimator`; `buildFeatureVector` fills
 * the row. Nothing that happens after an order's creation can reach its row.
 */
export function buildTrainingTable(history: OrderHistory, options: TrainingTableOptions): TrainingTable {
  const geo = Value.Default(geoConfigSchema, { ...options.geo }) as GeoConfig;
  const storeConfig = Value.Default(storeConfigSchema, { ...options.store }) as StoreConfig;
  const stores = new Map(history.stores.map((s) => [s.storeId, s]));
  const live = new LiveState({
    alpha: storeConfig.prepEwmaAlpha,
    kitchenOrderTtlMs: storeConfig.kitchenOrderTtlMinutes * 60_000,
  });
  const supply = new RiderSupply({
    resolution: geo.h3Resolution,
    ttlMs: options.riderTtlMs ?? geo.riderTtlSeconds * 1000,
  });
  const travel = new TravelEstimator(options.speeds, {
    detourFactor: geo.detourFactor,
    handoffSeconds: geo.handoffSeconds,
  });
  const fromMs = options.fromMs ?? Number.NEGATIVE_INFINITY;
  const toMs = options.toMs ?? Number.POSITIVE_INFINITY;

  const times: number[] = [];
  const kinds: number[] = [];
  const refs: number[] = [];
  const push = (t: number, kind: number, i: number): void => {
    times.push(t);
    kinds.push(kind);
    refs.push(i);
  };
  history.orders.forEach((o, i) => {
    if (!stores.has(o.store_id)) return;
    if (o.accepted_at_ms !== null) {
      push(o.accepted_at_ms, ACCEPTED, i);
      const left = o.ready_at_ms ?? o.cancelled_at_ms;
      if (left !== null) push(left, LEFT_KITCHEN, i);
    }
    if (o.delivered_at_ms !== null && o.created_at_ms >= fromMs && o.created_at_ms < toMs)
      push(o.created_at_ms, ROW, i);
  });
  const order = Uint32Array.from(times, (_, k) => k).sort(
    (a, b) => times[a]! - times[b]! || kinds[a]! - kinds[b]! || a - b,
  );

  const nRows = kinds.reduce((n, k) => n + (k === ROW ? 1 : 0), 0);
  const columns = Array.from({ length: FEATURE_COUNT }, () => new Float64Array(nRows));
  const target = new Float64Array(nRows);
  const createdAtMs = new Float64Array(nRows);
  const orderIndex = new Int32Array(nRows);
  const vec = new Float64Array(FEATURE_COUNT);
  const pings = history.riderPings;
  let p = 0;
  let row = 0;

  for (const k of order) {
    const o = history.orders[refs[k]!]!;
    const kind = kinds[k]!;
    if (kind === ACCEPTED) {
      live.orderAccepted(o.store_id, o.order_id, o.accepted_at_ms!);
      continue;
    }
    const store = stores.get(o.store_id)!;
    if (kind === LEFT_KITCHEN) {
      if (o.ready_at_ms !== null) live.orderReady(o.store_id, o.order_id, o.ready_at_ms, store.timezone);
      else live.orderCancelled(o.store_id, o.order_id);
      continue;
    }
    const at = o.created_at_ms;
    if (pings) {
      for (; p < pings.count && pings.atMs[p]! < at; p++) {
        supply.recordRiderLocation(
          pings.riderIds[pings.rider[p]!]!,
          pings.lat[p]!,
          pings.lng[p]!,
          pings.atMs[p]!,
          pings.available[p] === 1,
        );
      }
    }
    const state = live.get(o.store_id, at, store.timezone);
    const trip = travel.estimate(store.location, o.destination, at);
    buildFeatureVector(
      { orderedAtMs: at, items: o.items, subtotal: o.subtotal },
      {
        category: store.category,
        timezone: store.timezone,
        prepMeanSeconds: store.prepProfile.meanSeconds,
        prepEwmaSeconds: state.prepEwmaSeconds,
        ordersInKitchen: state.ordersInKitchen,
      },
      { ...trip, ridersAvailable: pings ? supply.ridersNear(store.location, at) : null },
      vec,
    );
    for (let f = 0; f < FEATURE_COUNT; f++) columns[f]![row] = vec[f]!;
    target[row] = (o.delivered_at_ms! - at) / 1000;
    createdAtMs[row] = at;
    orderIndex[row] = refs[k]!;
    row++;
  }
  return { spec: FEATURE_SPEC, columns, target, createdAtMs, orderIndex, nRows };
}

/** Completed rides (pickup to door) that ended before `untilMs`: what geo may learn speeds from. */
export function ridesBefore(history: OrderHistory, untilMs: number): ObservedTrip[] {
  const stores = new Map<string, { location: LatLng; timezone: string }>(
    history.stores.map((s) => [s.storeId, s]),
  );
  const trips: ObservedTrip[] = [];
  for (const o of history.orders) {
    const s = stores.get(o.store_id);
    if (!s || o.picked_up_at_ms === null || o.delivered_at_ms === null || o.delivered_at_ms >= untilMs)
      continue;
    trips.push({
      origin: s.location,
      destination: o.destination,
      departedAtMs: o.picked_up_at_ms,
      durationSeconds: (o.delivered_at_ms - o.picked_up_at_ms) / 1000,
      timezone: s.timezone,
    });
  }
  return trips;
}

/** Zone speeds learned only from rides finished before `untilMs`, with the geo module's settings. */
export function learnSpeedsBefore(
  history: OrderHistory,
  untilMs: number,
  geoOverrides: Partial<GeoConfig> = {},
): ZoneSpeedTableJson {
  const geo = Value.Default(geoConfigSchema, { ...geoOverrides }) as GeoConfig;
  return learnZoneSpeeds(ridesBefore(history, untilMs), {
    resolution: geo.h3Resolution,
    detourFactor: geo.detourFactor,
    handoffSeconds: geo.handoffSeconds,
    defaultSpeedKmh: geo.defaultSpeedKmh,
  });
}

/** Rows [from, to) of a table as model training data: views, not copies. */
export function sliceRows(
  table: TrainingTable,
  from: number,
  to: number,
): { spec: FeatureSpec[]; columns: Float64Array[]; target: Float64Array } {
  return {
    spec: table.spec,
    columns: table.columns.map((c) => c.subarray(from, to)),
    target: table.target.subarray(from, to),
  };
}
