import { Value } from 'typebox/value';
import { buildFeatureVector, FEATURE_COUNT, FEATURE_SPEC } from '../features/index.js';
import { geoConfigSchema, RiderSupply, TravelEstimator, type GeoConfig } from '../geo/index.js';
import type { RiderPings, SimulatedOrder } from '../simulator/index.js';
import { storeConfigSchema, type StoreConfig } from '../store/index.js';
import { sqlString, type Duck } from './duckdb.js';
import { ORDERS_SQL, PINGS_SQL, trainingRowsSql } from './etl-sql.js';
import type { OrderHistory, TrainingTable, TrainingTableOptions } from './training-table.js';

type Stores = OrderHistory['stores'];
const n = (v: unknown): number => Number(v);
const nOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Makes `events` (over any relation: the lake's Parquet, a loaded table) and `stores` visible to the ETL SQL. */
export async function prepareEtl(duck: Duck, eventsRelation: string, stores: Stores): Promise<void> {
  await duck.conn.run(`CREATE OR REPLACE VIEW events AS SELECT * FROM ${eventsRelation}`);
  const values = stores.map(
    (s) =>
      `(${sqlString(s.storeId)}, ${sqlString(s.category)}, ${sqlString(s.timezone)}, ${Number(s.prepProfile.meanSeconds)})`,
  );
  await duck.conn.run(
    values.length === 0
      ? 'CREATE OR REPLACE TABLE stores (store_id VARCHAR, category VARCHAR, timezone VARCHAR, prep_mean_s DOUBLE)'
      : `CREATE OR REPLACE TABLE stores AS SELECT * FROM (VALUES ${values.join(', ')}) AS s(store_id, category, timezone, prep_mean_s)`,
  );
}

/** The orders (and rider pings) the events describe, in creation order: the shape every trainer takes. */
export async function historyFromEvents(duck: Duck, stores: Stores): Promise<OrderHistory> {
  const rows = await duck.all<Record<string, unknown>>(ORDERS_SQL);
  const orders: SimulatedOrder[] = rows.map((r) => ({
    order_id: String(r.order_id),
    store_id: String(r.store_id),
    rider_id: r.rider_id === null ? null : String(r.rider_id),
    destination: { lat: n(r.dest_lat), lng: n(r.dest_lng) },
    items: n(r.items ?? Number.NaN),
    subtotal: n(r.subtotal ?? Number.NaN),
    created_at_ms: n(r.created_ms),
    accepted_at_ms: nOrNull(r.accepted_ms),
    ready_at_ms: nOrNull(r.ready_ms),
    picked_up_at_ms: nOrNull(r.picked_up_ms),
    delivered_at_ms: nOrNull(r.delivered_ms),
    cancelled: r.cancelled_ms !== null,
    cancelled_at_ms: nOrNull(r.cancelled_ms),
  }));
  const pingRows = await duck.all<Record<string, unknown>>(PINGS_SQL);
  let riderPings: RiderPings | undefined;
  if (pingRows.length > 0) {
    const ids = new Map<string, number>();
    const count = pingRows.length;
    riderPings = {
      riderIds: [],
      count,
      rider: new Int32Array(count),
      atMs: new Float64Array(count),
      lat: new Float64Array(count),
      lng: new Float64Array(count),
      available: new Uint8Array(count),
    };
    pingRows.forEach((r, i) => {
      const id = String(r.rider_id);
      let k = ids.get(id);
      if (k === undefined) {
        k = riderPings!.riderIds.length;
        ids.set(id, k);
        riderPings!.riderIds.push(id);
      }
      riderPings!.rider[i] = k;
      riderPings!.atMs[i] = n(r.occurred_ms);
      riderPings!.lat[i] = n(r.lat);
      riderPings!.lng[i] = n(r.lng);
      riderPings!.available[i] = r.available === true ? 1 : 0;
    });
  }
  return { stores, orders, ...(riderPings ? { riderPings } : {}) };
}

/**
 * The training table from SQL: the store-state features (orders in the kitchen, prep EWMA as of creation) come
 * from the point-in-time ETL in etl-sql.ts; the trip features come from the geo module's estimator and rider
 * supply (H3 cells and the speed table are not portable SQL); `buildFeatureVector`, the one feature definition,
 * assembles each row, as it does online. `history` must be `historyFromEvents` of the same events.
 */
export async function buildTrainingTableSql(
  duck: Duck,
  history: OrderHistory,
  options: TrainingTableOptions,
): Promise<TrainingTable> {
  const geo = Value.Default(geoConfigSchema, { ...options.geo }) as GeoConfig;
  const storeConfig = Value.Default(storeConfigSchema, { ...options.store }) as StoreConfig;
  const rows = await duck.all<Record<string, unknown>>(
    trainingRowsSql({
      fromMs: options.fromMs ?? -8.64e15,
      toMs: options.toMs ?? 8.64e15,
      alpha: storeConfig.prepEwmaAlpha,
      kitchenTtlMs: storeConfig.kitchenOrderTtlMinutes * 60_000,
    }),
  );
  const stores = new Map(history.stores.map((s) => [s.storeId, s]));
  const indexOf = new Map(history.orders.map((o, i) => [o.order_id, i]));
  const supply = new RiderSupply({
    resolution: geo.h3Resolution,
    ttlMs: options.riderTtlMs ?? geo.riderTtlSeconds * 1000,
  });
  const travel = new TravelEstimator(options.speeds, {
    detourFactor: geo.detourFactor,
    handoffSeconds: geo.handoffSeconds,
  });
  const nRows = rows.length;
  const columns = Array.from({ length: FEATURE_COUNT }, () => new Float64Array(nRows));
  const target = new Float64Array(nRows);
  const createdAtMs = new Float64Array(nRows);
  const orderIndex = new Int32Array(nRows);
  const vec = new Float64Array(FEATURE_COUNT);
  const pings = history.riderPings;
  let p = 0;
  rows.forEach((r, row) => {
    const store = stores.get(String(r.store_id))!;
    const at = n(r.created_ms);
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
    const destination = { lat: n(r.dest_lat), lng: n(r.dest_lng) };
    const trip = travel.estimate(store.location, destination, at);
    buildFeatureVector(
      { orderedAtMs: at, items: nOrNull(r.items) ?? undefined, subtotal: nOrNull(r.subtotal) ?? undefined },
      {
        category: store.category,
        timezone: store.timezone,
        prepMeanSeconds: store.prepProfile.meanSeconds,
        prepEwmaSeconds: nOrNull(r.prep_ewma_s),
        ordersInKitchen: n(r.orders_in_kitchen),
      },
      { ...trip, ridersAvailable: pings ? supply.ridersNear(store.location, at) : null },
      vec,
    );
    for (let f = 0; f < FEATURE_COUNT; f++) columns[f]![row] = vec[f]!;
    target[row] = (n(r.delivered_ms) - at) / 1000;
    createdAtMs[row] = at;
    orderIndex[row] = indexOf.get(String(r.order_id)) ?? -1;
  });
  return { spec: FEATURE_SPEC, columns, target, createdAtMs, orderIndex, nRows };
}
