import { Value } from 'typebox/value';
import { buildFeatureVector, FEATURE_COUNT, FEATURE_SPEC } from '../../features/index.js';
import { geoConfigSchema, RiderSupply, TravelEstimator, type GeoConfig } from '../../geo/index.js';
import { allocatePings, OrderTable, replayPings } from '../../simulator/index.js';
import type { OrderHistory, RiderPings } from '../history.js';
import { storeConfigSchema, type StoreConfig } from '../../store/index.js';
import { sqlString, type Duck } from './duckdb.js';
import { ORDERS_SQL, ORDERS_TABLE_SQL, PINGS_SQL, trainingRowsSql } from './etl-sql.js';
import type { TrainingTable, TrainingTableOptions } from './training-table.js';

type Stores = OrderHistory['stores'];
const n = (v: unknown): number => Number(v);
const nOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * Makes `events` (over any relation: the lake's Parquet, a loaded table) and `stores` visible to the ETL SQL, and
 * builds `orders`, each order's lifecycle, from the events once.
 */
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
  await duck.conn.run(ORDERS_TABLE_SQL);
}

/**
 * The orders (and rider pings) the events describe, in creation order (`idx` of the `orders` table): columns, read
 * chunk by chunk. `prepareEtl` first.
 */
export async function historyFromEvents(duck: Duck, stores: Stores): Promise<OrderHistory> {
  const orders = await ordersFromEvents(duck);
  const riderPings = await pingsFromEvents(duck);
  return { stores, orders, ...(riderPings ? { riderPings } : {}) };
}

/** The `orders` table as columns, in `idx` order. */
export async function ordersFromEvents(duck: Duck): Promise<OrderHistory['orders']> {
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
  return orders.finish();
}

/** Rider positions straight into columns: counted first, so each column is allocated once at its size. */
export async function pingsFromEvents(duck: Duck): Promise<RiderPings | undefined> {
  const [counted] = await duck.all<{ n: number }>(`SELECT COUNT(*) AS n FROM (${PINGS_SQL})`);
  const count = Number(counted?.n ?? 0);
  if (count === 0) return undefined;
  const ids = new Map<string, number>();
  const pings = allocatePings([], count);
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
 * Orders per query of the point-in-time ETL: its joins and windows grow with the orders it sees, partly outside
 * DuckDB's memory limit, so a year runs as groups of whole stores of about this many orders each (a store busier
 * than that is a group by itself), and DuckDB's memory stays that of one group.
 */
const GROUP_ORDERS = 50_000;

/** Whole stores, in store order, packed into groups of about `GROUP_ORDERS` orders. */
async function storeGroups(duck: Duck, groupOrders: number): Promise<string[][]> {
  const counts = await duck.all<{ store_id: string; n: number }>(
    'SELECT store_id, COUNT(*) AS n FROM orders WHERE store_id IS NOT NULL GROUP BY store_id ORDER BY store_id',
  );
  const groups: string[][] = [];
  let size = Number.POSITIVE_INFINITY;
  for (const c of counts) {
    if (size + Number(c.n) > groupOrders) {
      groups.push([]);
      size = 0;
    }
    groups.at(-1)!.push(c.store_id);
    size += Number(c.n);
  }
  return groups;
}

/** Store-state features by order (`idx`, the OrderTable's index), and which orders are training rows. */
export interface StoreStateByOrder {
  isRow: Uint8Array;
  ordersInKitchen: Int32Array;
  /** NaN where the store had no prep time yet. */
  prepEwma: Float64Array;
  nRows: number;
}

/**
 * The store-state features (orders in the kitchen, prep EWMA as of creation) from the point-in-time ETL in
 * etl-sql.ts, one group of stores at a time, into arrays indexed by order: nothing sorts the whole window, and no
 * row becomes an object. After this, DuckDB is no longer needed.
 */
export async function storeStateFromSql(
  duck: Duck,
  history: Pick<OrderHistory, 'orders'>,
  options: Pick<TrainingTableOptions, 'fromMs' | 'toMs' | 'store'> & { groupOrders?: number },
): Promise<StoreStateByOrder> {
  const storeConfig = Value.Default(storeConfigSchema, { ...options.store }) as StoreConfig;
  const params = {
    fromMs: options.fromMs ?? -8.64e15,
    toMs: options.toMs ?? 8.64e15,
    alpha: storeConfig.prepEwmaAlpha,
    kitchenTtlMs: storeConfig.kitchenOrderTtlMinutes * 60_000,
  };
  const size = history.orders.length;
  const state = {
    isRow: new Uint8Array(size),
    ordersInKitchen: new Int32Array(size),
    prepEwma: new Float64Array(size),
    nRows: 0,
  };
  for (const group of await storeGroups(duck, options.groupOrders ?? GROUP_ORDERS)) {
    await duck.forEachChunk(trainingRowsSql(params, group), (col, rows) => {
      const [idx, inKitchen, prep] = [col('idx'), col('orders_in_kitchen'), col('prep_ewma_s')];
      for (let r = 0; r < rows; r++) {
        const i = n(idx[r]);
        state.isRow[i] = 1;
        state.ordersInKitchen[i] = n(inKitchen[r]);
        state.prepEwma[i] = prep[r] === null ? Number.NaN : n(prep[r]);
        state.nRows++;
      }
    });
  }
  return state;
}

/**
 * The training table from SQL: the store-state features from `storeStateFromSql`; the trip features from the geo
 * module's estimator and rider supply (H3 cells and the speed table are not portable SQL), replayed in creation
 * order; `buildFeatureVector`, the one feature definition, assembles each row, as it does online. `history` must be
 * `historyFromEvents` of the same events.
 */
export async function buildTrainingTableSql(
  duck: Duck,
  history: OrderHistory,
  options: TrainingTableOptions & { groupOrders?: number },
): Promise<TrainingTable> {
  return assembleTable(history, await storeStateFromSql(duck, history, options), options);
}

/** Rows in creation order from the store state by order, with the trip features replayed alongside. */
export function assembleTable(
  history: OrderHistory,
  state: StoreStateByOrder,
  options: TrainingTableOptions,
): TrainingTable {
  const geo = Value.Default(geoConfigSchema, { ...options.geo }) as GeoConfig;
  const { isRow, ordersInKitchen: kitchen, prepEwma, nRows } = state;
  const O = history.orders;
  const stores = new Map(history.stores.map((s) => [s.storeId, s]));
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
  const orNull = (v: number): number | null => (Number.isNaN(v) ? null : v);
  let p = 0;
  let row = 0;
  // Orders are in (created_ms, order_id) order, the order of the rows; pings replay up to each creation.
  for (let i = 0; i < O.length; i++) {
    if (isRow[i] === 0) continue;
    const s = stores.get(O.storeId(i))!;
    const at = O.createdAtMs[i]!;
    if (pings) p = replayPings(pings, p, at, supply);
    const trip = travel.estimate(s.location, { lat: O.destLat[i]!, lng: O.destLng[i]! }, at);
    buildFeatureVector(
      {
        orderedAtMs: at,
        items: orNull(O.items[i]!) ?? undefined,
        subtotal: orNull(O.subtotal[i]!) ?? undefined,
      },
      {
        category: s.category,
        timezone: s.timezone,
        prepMeanSeconds: s.prepProfile.meanSeconds,
        prepEwmaSeconds: orNull(prepEwma[i]!),
        ordersInKitchen: kitchen[i]!,
      },
      { ...trip, ridersAvailable: pings ? supply.ridersNear(s.location, at) : null },
      vec,
    );
    for (let f = 0; f < FEATURE_COUNT; f++) columns[f]![row] = vec[f]!;
    target[row] = (O.deliveredAtMs[i]! - at) / 1000;
    createdAtMs[row] = at;
    orderIndex[row] = i;
    row++;
  }
  return { spec: FEATURE_SPEC, columns, target, createdAtMs, orderIndex, nRows };
}
