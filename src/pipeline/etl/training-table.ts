import { Value } from 'typebox/value';
import { buildFeatureVector, FEATURE_COUNT, FEATURE_SPEC, type LatLng } from '../../features/index.js';
import {
  geoConfigSchema,
  learnZoneSpeeds,
  RiderSupply,
  TravelEstimator,
  type GeoConfig,
  type ObservedTrip,
  type ZoneSpeedTable,
  type ZoneSpeedTableJson,
} from '../../geo/index.js';
import type { FeatureSpec } from '../../model/index.js';
import { replayPings } from '../../simulator/index.js';
import type { OrderHistory } from '../history.js';
import { LiveState, storeConfigSchema, type StoreConfig } from '../../store/index.js';

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

  const O = history.orders;
  const storeOf = O.storeIds.map((id) => stores.get(id));
  const has = (t: number): boolean => !Number.isNaN(t);
  const leftAt = (i: number): number => (has(O.readyAtMs[i]!) ? O.readyAtMs[i]! : O.cancelledAtMs[i]!);
  const isRow = (i: number): boolean =>
    has(O.deliveredAtMs[i]!) && O.createdAtMs[i]! >= fromMs && O.createdAtMs[i]! < toMs;
  // Counted first: three typed columns of the right length, no array growing past a million entries.
  let nEvents = 0;
  for (let i = 0; i < O.length; i++) {
    if (!storeOf[O.store[i]!]) continue;
    if (has(O.acceptedAtMs[i]!)) nEvents += has(leftAt(i)) ? 2 : 1;
    if (isRow(i)) nEvents++;
  }
  const times = new Float64Array(nEvents);
  const kinds = new Uint8Array(nEvents);
  const refs = new Int32Array(nEvents);
  let e = 0;
  const push = (t: number, kind: number, i: number): void => {
    times[e] = t;
    kinds[e] = kind;
    refs[e++] = i;
  };
  for (let i = 0; i < O.length; i++) {
    if (!storeOf[O.store[i]!]) continue;
    if (has(O.acceptedAtMs[i]!)) {
      push(O.acceptedAtMs[i]!, ACCEPTED, i);
      if (has(leftAt(i))) push(leftAt(i), LEFT_KITCHEN, i);
    }
    if (isRow(i)) push(O.createdAtMs[i]!, ROW, i);
  }
  const order = new Uint32Array(nEvents);
  for (let k = 0; k < nEvents; k++) order[k] = k;
  order.sort((a, b) => times[a]! - times[b]! || kinds[a]! - kinds[b]! || a - b);

  let nRows = 0;
  for (let k = 0; k < nEvents; k++) if (kinds[k] === ROW) nRows++;
  const columns = Array.from({ length: FEATURE_COUNT }, () => new Float64Array(nRows));
  const target = new Float64Array(nRows);
  const createdAtMs = new Float64Array(nRows);
  const orderIndex = new Int32Array(nRows);
  const vec = new Float64Array(FEATURE_COUNT);
  const pings = history.riderPings;
  let p = 0;
  let row = 0;

  for (const k of order) {
    const i = refs[k]!;
    const kind = kinds[k]!;
    const store = storeOf[O.store[i]!]!;
    if (kind === ACCEPTED) {
      live.orderAccepted(store.storeId, O.orderId(i), O.acceptedAtMs[i]!);
      continue;
    }
    if (kind === LEFT_KITCHEN) {
      if (has(O.readyAtMs[i]!)) live.orderReady(store.storeId, O.orderId(i), O.readyAtMs[i]!, store.timezone);
      else live.orderCancelled(store.storeId, O.orderId(i));
      continue;
    }
    const at = O.createdAtMs[i]!;
    if (pings) p = replayPings(pings, p, at, supply);
    const state = live.get(store.storeId, at, store.timezone);
    const trip = travel.estimate(store.location, { lat: O.destLat[i]!, lng: O.destLng[i]! }, at);
    buildFeatureVector(
      { orderedAtMs: at, items: O.items[i]!, subtotal: O.subtotal[i]! },
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
    target[row] = (O.deliveredAtMs[i]! - at) / 1000;
    createdAtMs[row] = at;
    orderIndex[row] = i;
    row++;
  }
  return { spec: FEATURE_SPEC, columns, target, createdAtMs, orderIndex, nRows };
}

/** Completed rides (pickup to door) that ended before `untilMs`, one at a time: what geo may learn speeds from. */
export function* ridesBefore(history: OrderHistory, untilMs: number): Generator<ObservedTrip> {
  const stores = new Map<string, { location: LatLng; timezone: string }>(
    history.stores.map((s) => [s.storeId, s]),
  );
  const O = history.orders;
  const storeOf = O.storeIds.map((id) => stores.get(id));
  for (let i = 0; i < O.length; i++) {
    const s = storeOf[O.store[i]!];
    const picked = O.pickedUpAtMs[i]!;
    const delivered = O.deliveredAtMs[i]!;
    if (!s || Number.isNaN(picked) || Number.isNaN(delivered) || delivered >= untilMs) continue;
    yield {
      origin: s.location,
      destination: { lat: O.destLat[i]!, lng: O.destLng[i]! },
      departedAtMs: picked,
      durationSeconds: (delivered - picked) / 1000,
      timezone: s.timezone,
    };
  }
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
