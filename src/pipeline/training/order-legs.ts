import { ZoneSpeedTable, type GeoConfig } from '../../geo/index.js';
import { mulberry32, train, type TrainParams, type TrainingData } from '../../model/index.js';
import {
  fitStageCalibration,
  LEG_FEATURE_COUNT,
  LEG_FEATURE_SPEC,
  LEG_FEATURE_VERSION,
  legFeatures,
  LEG_NAMES,
  LEGS_ARTIFACT_KIND,
  LEGS_ARTIFACT_VERSION,
  LEGS_LEFT,
  LIVE_STAGES,
  OrderLegs,
  PIT_LEVELS,
  rawCdf,
  SAMPLES,
  type LegName,
  type LiveStage,
  type OrderLegsArtifact,
  type OrderSnapshot,
} from '../../orders/index.js';
import { buildTrainingTable, learnSpeedsBefore, type TrainingTable } from '../etl/training-table.js';
import type { OrderHistory } from '../history.js';
import { DEFAULT_TRAIN_PARAMS } from './train-model.js';

/** One moment of one order's life, with what happened next (the targets). */
export interface LifeSnapshot {
  snapshot: OrderSnapshot;
  nowMs: number;
  /** Index into history.orders. */
  order: number;
  /** Seconds from nowMs to delivery. */
  remaining: number;
  /** Each leg still ahead, seconds: ready = ready − now; pickup = picked up − max(now, ready); door = delivered − max(now, picked up). */
  legs: Partial<Record<LegName, number>>;
}

export interface SnapshotOptions {
  /** Orders created in [fromMs, toMs). */
  fromMs?: number;
  toMs?: number;
  seed?: number;
  /**
   * Share of snapshots per stage in which the rider and their latest ping are known. The simulator's dispatcher
   * assigns a rider at acceptance; a live feed may name the rider later (`order.rider_assigned`) or not until
   * pickup, so the legs learn both cases. Default: created 0, accepted 0.5, ready 0.75, picked_up 0.9.
   */
  riderKnown?: Partial<Record<LiveStage, number>>;
}

const DEFAULT_RIDER_KNOWN: Record<LiveStage, number> = {
  created: 0,
  accepted: 0.5,
  ready: 0.75,
  picked_up: 0.9,
};

/** The rider of each order: the columns when the history has them (the simulator's OrderTable), else its objects. */
function ridersOf(history: OrderHistory): (i: number) => string | null {
  const o = history.orders as OrderHistory['orders'] & { rider?: Int32Array; riderIds?: readonly string[] };
  if (o.rider && o.riderIds) {
    const { rider, riderIds } = o;
    return (i) => (rider[i]! < 0 ? null : riderIds[rider[i]!]!);
  }
  return (i) => o.get(i).rider_id;
}

/** Each rider's pings (indices into the columns, in time order) and a lookup of the latest one at or before t. */
function pingIndex(history: OrderHistory): (riderId: string, t: number) => number {
  const P = history.riderPings;
  if (!P) return () => -1;
  const nRiders = P.riderIds.length;
  const start = new Int32Array(nRiders + 1);
  for (let p = 0; p < P.count; p++) start[P.rider[p]! + 1]!++;
  for (let r = 0; r < nRiders; r++) start[r + 1]! += start[r]!;
  const fill = start.slice(0, nRiders);
  const idx = new Int32Array(P.count);
  for (let p = 0; p < P.count; p++) idx[fill[P.rider[p]!]!++] = p;
  const riderAt = new Map(P.riderIds.map((id, r) => [id, r]));
  return (riderId, t) => {
    const r = riderAt.get(riderId);
    if (r === undefined) return -1;
    let lo = start[r]!;
    let hi = start[r + 1]!;
    // last ping with atMs <= t
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (P.atMs[idx[mid]!]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo > start[r]! ? idx[lo - 1]! : -1;
  };
}

/**
 * Snapshots of the delivered orders of `table` created in [fromMs, toMs): at each stage, one at its start (the
 * event that updates a live ETA) and one at a uniform time inside it. The store and trip records are the order's
 * checkout row of `table`; the rider's position is their latest ping at that moment.
 */
export function orderSnapshots(
  history: OrderHistory,
  table: TrainingTable,
  options: SnapshotOptions = {},
): LifeSnapshot[] {
  const fromMs = options.fromMs ?? Number.NEGATIVE_INFINITY;
  const toMs = options.toMs ?? Number.POSITIVE_INFINITY;
  const known = { ...DEFAULT_RIDER_KNOWN, ...options.riderKnown };
  const rand = mulberry32(options.seed ?? 1);
  const O = history.orders;
  const P = history.riderPings;
  const stores = new Map(history.stores.map((s) => [s.storeId, s]));
  const col = (name: string): Float64Array => table.columns[table.spec.findIndex((s) => s.name === name)]!;
  const c = {
    distance: col('distance_km'),
    travel: col('travel_estimate_s'),
    prepMean: col('prep_mean_s'),
    prepEwma: col('prep_ewma_s'),
    kitchen: col('orders_in_kitchen'),
    riders: col('riders_available'),
    zoneSpeed: col('zone_speed_kmh'),
  };
  const riderOf = ridersOf(history);
  const latestPing = pingIndex(history);
  const out: LifeSnapshot[] = [];
  const nan = (v: number): number | null => (Number.isNaN(v) ? null : v);

  for (let r = 0; r < table.nRows; r++) {
    const created = table.createdAtMs[r]!;
    if (created < fromMs || created >= toMs) continue;
    const i = table.orderIndex[r]!;
    const accepted = O.acceptedAtMs[i]!;
    const ready = O.readyAtMs[i]!;
    const picked = O.pickedUpAtMs[i]!;
    const delivered = O.deliveredAtMs[i]!;
    if ([accepted, ready, picked, delivered].some(Number.isNaN)) continue;
    const store = stores.get(O.storeId(i));
    if (!store) continue;
    const riderId = riderOf(i);
    const base = {
      createdAtMs: created,
      store: {
        storeId: store.storeId,
        location: store.location,
        category: store.category,
        timezone: store.timezone,
        prepMeanSeconds: c.prepMean[r]!,
        prepEwmaSeconds: nan(c.prepEwma[r]!),
        ordersInKitchen: c.kitchen[r]!,
      },
      trip: {
        distanceKm: c.distance[r]!,
        travelSeconds: c.travel[r]!,
        zoneSpeedKmh: c.zoneSpeed[r]!,
        ridersAvailable: nan(c.riders[r]!),
      },
      destination: { lat: O.destLat[i]!, lng: O.destLng[i]! },
      items: O.items[i]!,
      subtotal: O.subtotal[i]!,
    };
    const bounds: Array<[LiveStage, number, number]> = [
      ['created', created, accepted],
      ['accepted', accepted, ready],
      ['ready', ready, picked],
      ['picked_up', picked, delivered],
    ];
    for (const [stage, from, to] of bounds) {
      const stageAtMs: OrderSnapshot['stageAtMs'] = { created };
      if (stage !== 'created') stageAtMs.accepted = accepted;
      if (stage === 'ready' || stage === 'picked_up') stageAtMs.ready = ready;
      if (stage === 'picked_up') stageAtMs.picked_up = picked;
      for (const at of [from, from + Math.floor(rand() * Math.max(0, to - from))]) {
        const riderKnown = riderId !== null && rand() < known[stage];
        let rider: OrderSnapshot['rider'] = null;
        if (riderKnown && P) {
          const p = latestPing(riderId, at);
          if (p >= 0) rider = { lat: P.lat[p]!, lng: P.lng[p]!, atMs: P.atMs[p]! };
        }
        const legs: Partial<Record<LegName, number>> = {};
        for (const leg of LEGS_LEFT[stage]) {
          legs[leg] =
            (leg === 'ready'
              ? ready - at
              : leg === 'pickup'
                ? picked - Math.max(at, ready)
                : delivered - Math.max(at, picked)) / 1000;
        }
        out.push({
          snapshot: { ...base, stage, stageAtMs, riderId: riderKnown ? riderId : null, rider },
          nowMs: at,
          order: i,
          remaining: (delivered - at) / 1000,
          legs,
        });
      }
    }
  }
  return out;
}

export interface TrainOrderLegsOptions {
  /** Shares of delivered orders, by creation time: the legs train on the first, calibrate on the next; the rest is left for testing. */
  split?: { train: number; calibration: number };
  /** Boosting parameters; default: the pipeline's checkout-model parameters (DEFAULT_TRAIN_PARAMS). */
  params?: Partial<TrainParams>;
  /**
   * The checkout rows (the pipeline's training table: features as of each order's creation). Default: built here
   * with zone speeds learned from rides before the training cut, as `trainFromHistory` does; pass its `table` to
   * share one.
   */
  checkoutTable?: TrainingTable;
  geo?: Partial<GeoConfig>;
  /** Seeds the snapshot times and rider masks. */
  seed?: number;
  riderKnown?: SnapshotOptions['riderKnown'];
  onProgress?: (message: string) => void;
}

export interface TrainedOrderLegs {
  legs: OrderLegs;
  artifact: OrderLegsArtifact;
  /** The checkout rows the snapshots were built from; rows created at or after calibrationEndMs are untouched. */
  table: TrainingTable;
  trainEndMs: number;
  calibrationEndMs: number;
}

/**
 * Trains the three legs on the snapshots of orders created before the training cut, then fits the per-stage
 * calibration of the combined remaining time on the next window, which is also each leg's early-stopping and
 * range-calibration set (as the pipeline's checkout model uses its validation window for both). Accepts any `OrderHistory`: the simulator's `SimulatedHistory`, a CSV, the
 * lake.
 */
export async function trainOrderLegs(
  history: OrderHistory,
  options: TrainOrderLegsOptions = {},
): Promise<TrainedOrderLegs> {
  const progress = options.onProgress ?? (() => undefined);
  const split = options.split ?? { train: 0.6, calibration: 0.2 };
  const seed = options.seed ?? 1;
  const O = history.orders;
  const createdTimes: number[] = [];
  for (let i = 0; i < O.length; i++)
    if (!Number.isNaN(O.deliveredAtMs[i]!)) createdTimes.push(O.createdAtMs[i]!);
  if (createdTimes.length < 200) throw new RangeError(`too few delivered orders: ${createdTimes.length}`);
  createdTimes.sort((a, b) => a - b);
  const cut = (share: number): number =>
    createdTimes[Math.min(createdTimes.length - 1, Math.floor(createdTimes.length * share))]!;
  const trainEndMs = cut(split.train);
  const calibrationEndMs = cut(split.train + split.calibration);

  let table = options.checkoutTable;
  if (!table) {
    const speeds = ZoneSpeedTable.fromJSON(learnSpeedsBefore(history, trainEndMs, options.geo));
    if (!speeds.ok) throw new Error(`learned speeds are invalid: ${speeds.error}`);
    table = buildTrainingTable(history, { speeds: speeds.value, geo: options.geo });
  }
  const riderKnown = options.riderKnown ? { riderKnown: options.riderKnown } : {};
  const snaps = orderSnapshots(history, table, { toMs: trainEndMs, seed, ...riderKnown });
  const calSnaps = orderSnapshots(history, table, {
    fromMs: trainEndMs,
    toMs: calibrationEndMs,
    seed: seed + 1,
    ...riderKnown,
  });
  progress(`${snaps.length} training snapshots`);

  const params: Partial<TrainParams> = {
    ...DEFAULT_TRAIN_PARAMS,
    segmentColumns: [],
    ...options.params,
    objective: 'quantile',
    quantiles: [0.1, 0.5, 0.9],
  };
  const features = new Float64Array(LEG_FEATURE_COUNT);
  const legArtifacts = {} as OrderLegsArtifact['legs'];
  const metrics: Record<string, number> = {};
  for (const leg of LEG_NAMES) {
    const data = (part: LifeSnapshot[]): TrainingData => {
      const columns = Array.from({ length: LEG_FEATURE_COUNT }, () => new Float64Array(part.length));
      const target = new Float64Array(part.length);
      part.forEach((s, k) => {
        legFeatures(s.snapshot, s.nowMs, features);
        for (let f = 0; f < LEG_FEATURE_COUNT; f++) columns[f]![k] = features[f]!;
        target[k] = s.legs[leg]!;
      });
      return { spec: LEG_FEATURE_SPEC, columns, target };
    };
    const trainRows = snaps.filter((s) => s.legs[leg] !== undefined);
    const validRows = calSnaps.filter((s) => s.legs[leg] !== undefined);
    const started = Date.now();
    legArtifacts[leg] = await train(data(trainRows), data(validRows), params);
    metrics[`${leg}_train_rows`] = trainRows.length;
    metrics[`${leg}_valid_rows`] = validRows.length;
    metrics[`${leg}_trees`] = legArtifacts[leg].trees.length;
    progress(
      `leg ${leg}: ${trainRows.length} rows, ${legArtifacts[leg].trees.length} trees in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }

  const identity = { rows: 0, pit: Array.from({ length: PIT_LEVELS + 1 }, (_, k) => k / PIT_LEVELS) };
  const artifact: OrderLegsArtifact = {
    kind: LEGS_ARTIFACT_KIND,
    version: LEGS_ARTIFACT_VERSION,
    featureVersion: LEG_FEATURE_VERSION,
    features: LEG_FEATURE_SPEC.map((f) => f.name),
    createdAt: new Date().toISOString(),
    trainEndMs,
    calibrationEndMs,
    samples: SAMPLES,
    legs: legArtifacts,
    calibration: Object.fromEntries(
      LIVE_STAGES.map((s) => [s, identity]),
    ) as OrderLegsArtifact['calibration'],
    metrics,
  };
  const raw = OrderLegs.fromArtifact(artifact);
  const pits: Record<LiveStage, number[]> = { created: [], accepted: [], ready: [], picked_up: [] };
  for (const s of calSnaps) {
    const { draws } = raw.rawDraws(s.snapshot, s.nowMs);
    pits[s.snapshot.stage as LiveStage].push(rawCdf(draws, s.remaining));
  }
  for (const stage of LIVE_STAGES) {
    const p = Float64Array.from(pits[stage]);
    let inside = 0;
    for (const v of p) if (v >= 0.1 && v <= 0.9) inside++;
    metrics[`${stage}_calibration_rows`] = p.length;
    metrics[`${stage}_raw_coverage_p10_p90`] = p.length ? inside / p.length : Number.NaN;
    artifact.calibration[stage] = fitStageCalibration(p);
  }
  progress(
    `calibrated on ${calSnaps.length} snapshots; raw p10-p90 coverage ${LIVE_STAGES.map((s) => `${s} ${metrics[`${s}_raw_coverage_p10_p90`]!.toFixed(3)}`).join(', ')}`,
  );
  return { legs: OrderLegs.fromArtifact(artifact), artifact, table, trainEndMs, calibrationEndMs };
}
