import { Value } from 'typebox/value';
import { buildFeatureVector, FEATURE_COUNT, FEATURE_SPEC } from '../features/index.js';
import { geoConfigSchema, RiderSupply, TravelEstimator, type GeoConfig } from '../geo/index.js';
import { OrderTable, type RiderPings } from '../simulator/index.js';
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

/** The orders (and rider pings) the events describe, in creation order: columns, read chunk by chunk. */
export async function historyFromEvents(duck: Duck, stores: Stores): Promise<OrderHistory> {
  const orders = OrderTable.builder();
  await duck.forEachChunk(ORDERS_SQL, (col, rows) => {
    const [id, store, rider, lat, lng, items, subtotal] = [
      col('order_id'),
      col('store_id'),
      col('rider_id'),
      col('dest_lat'),
      col('dest_lng'),
      col('items'),
      col('subtotal'),
    ];
    const [created, accepted, ready, pickedUp, delivered, cancelled] = [
      col('created_ms'),
      col('accepted_ms'),
      col('ready_ms'),
      col('picked_up_ms'),
      col('delivered_ms'),
      col('cancelled_ms'),
    ];
    for (let r = 0; r < rows; r++) {
      orders.pushColumns(
        String(id[r]),
        String(store[r]),
        rider[r] === null ? null : String(rider[r]),
        n(lat[r]),
        n(lng[r]),
        { items: n(items[r] ?? Number.NaN), subtotal: n(subtotal[r] ?? Number.NaN) },
        {
          created: n(created[r]),
          accepted: nOrNull(accepted[r]),
          ready: nOrNull(ready[r]),
          pickedUp: nOrNull(pickedUp[r]),
          delivered: nOrNull(delivered[r]),
          cancelled: nOrNull(cancelled[r]),
        },
      );
    }
  });
  const riderPings = await pingsFromEvents(duck);
  return { stores, orders: orders.finish(), ...(riderPings ? { riderPings } : {}) };
}

/** Rider positions straight into columns: counted first, so each column is allocated once at its size. */
async function pingsFromEvents(duck: Duck): Promise<RiderPings | undefined> {
  const [counted] = await duck.all<{ n: number }>(`SELECT COUNT(*) AS n FROM (${PINGS_SQL})`);
  const count = Number(counted?.n ?? 0);
  if (count === 0) return undefined;
  const ids = new Map<string, number>();
  const pings: RiderPings = {
    riderIds: [],
    count,
    rider: new Int32Array(count),
    atMs: new Float64Array(count),
    lat: new Float64Array(count),
    lng: new Float64Array(count),
    available: new Uint8Array(count),
  };
  let i = 0;
  await duck.forEachChunk(PINGS_SQL, (col, rows) => {
    const [rider, at, lat, lng, available] = [
      col('rider_id'),
      col('occurred_ms'),
      col('lat'),
      col('lng'),
      col('available'),
    ];
    for (let r = 0; r < rows && i < count; r++, i++) {
      const id = String(rider[r]);
      let k = ids.get(id);
      if (k === undefined) {
        k = pings.riderIds.length;
        ids.set(id, k);
        pings.riderIds.push(id);
      }
      pings.rider[i] = k;
      pings.atMs[i] = n(at[r]);
      pings.lat[i] = n(lat[r]);
      pings.lng[i] = n(lng[r]);
      pings.available[i] = available[r] === true ? 1 : 0;
    }
  });
  return pings;
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
  const sql = trainingRowsSql({
    fromMs: options.fromMs ?? -8.64e15,
    toMs: options.toMs ?? 8.64e15,
    alpha: storeConfig.prepEwmaAlpha,
    kitchenTtlMs: storeConfig.kitchenOrderTtlMinutes * 60_000,
  });
  const [counted] = await duck.all<{ n: number }>(`SELECT COUNT(*) AS n FROM (${sql})`);
  const nRows = Number(counted?.n ?? 0);
  const stores = new Map(history.stores.map((s) => [s.storeId, s]));
  const O = history.orders;
  const supply = new RiderSupply({
    resolution: geo.h3Resolution,
    ttlMs: options.riderTtlMs ?? geo.riderTtlSeconds * 1000,
  });
  const travel = new TravelEstimator(options.speeds, {
    detourFactor: geo.detourFactor,
    handoffSeconds: geo.handoffSeconds,
  });
  const columns = Array.from({ length: FEATURE_COUNT }, () => new Float64Array(nRows));
  const target = new Float64Array(nRows);
  const createdAtMs = new Float64Array(nRows);
  const orderIndex = new Int32Array(nRows);
  const vec = new Float64Array(FEATURE_COUNT);
  const pings = history.riderPings;
  let p = 0;
  let row = 0;
  // Rows and orders are both in (created_ms, order_id) order: each row's order is found walking forward, no map.
  let i = 0;
  const orderOf = (created: number, id: string): number => {
    for (let k = i; k < O.length && O.createdAtMs[k]! <= created; k++) {
      if (O.createdAtMs[k] === created && O.orderId(k) === id) return (i = k);
    }
    return -1;
  };
  await duck.forEachChunk(sql, (col, rows) => {
    const [id, store, created, delivered, lat, lng, items, subtotal, prep, kitchen] = [
      col('order_id'),
      col('store_id'),
      col('created_ms'),
      col('delivered_ms'),
      col('dest_lat'),
      col('dest_lng'),
      col('items'),
      col('subtotal'),
      col('prep_ewma_s'),
      col('orders_in_kitchen'),
    ];
    for (let r = 0; r < rows && row < nRows; r++, row++) {
      const s = stores.get(String(store[r]))!;
      const at = n(created[r]);
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
      const trip = travel.estimate(s.location, { lat: n(lat[r]), lng: n(lng[r]) }, at);
      buildFeatureVector(
        {
          orderedAtMs: at,
          items: nOrNull(items[r]) ?? undefined,
          subtotal: nOrNull(subtotal[r]) ?? undefined,
        },
        {
          category: s.category,
          timezone: s.timezone,
          prepMeanSeconds: s.prepProfile.meanSeconds,
          prepEwmaSeconds: nOrNull(prep[r]),
          ordersInKitchen: n(kitchen[r]),
        },
        { ...trip, ridersAvailable: pings ? supply.ridersNear(s.location, at) : null },
        vec,
      );
      for (let f = 0; f < FEATURE_COUNT; f++) columns[f]![row] = vec[f]!;
      target[row] = (n(delivered[r]) - at) / 1000;
      createdAtMs[row] = at;
      orderIndex[row] = orderOf(at, String(id[r]));
    }
  });
  return { spec: FEATURE_SPEC, columns, target, createdAtMs, orderIndex, nRows };
}
