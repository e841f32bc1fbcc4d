// The simulated city as a calibration case: the platform's own features (the pipeline's training table), its
// segments (the store's zone, the daypart), and a prep-time break in one zone to recover from.
import { buildCity, generateHistory } from '../../src/simulator/index.js';
import { ZoneSpeedTable } from '../../src/geo/index.js';
import {
  buildTrainingTable,
  DEFAULT_TRAIN_PARAMS,
  learnSpeedsBefore,
  storeZone,
} from '../../src/pipeline/index.js';
import {
  train,
  type ModelArtifact,
  type OnlineSegmentOptions,
  type TrainingData,
} from '../../src/model/index.js';
import { BAND_SLACK, binomialBand, METHODS, replay, type Method } from './replay.js';

const DAY = 86_400_000;

export interface SimulatedCityOptions {
  seed: number;
  days: number;
  stores: number;
  ordersPerDay: number;
  /** A Monday, so runs do not depend on today. */
  startMs?: number;
  /** Shares of orders (by creation) for training and validation; the rest is the test split. */
  split?: { train: number; valid: number };
  /** Prep times × factor in one zone for orders created from `atDay` days after the start (a break). */
  shift?: { zoneRank: number; factor: number; atDay: number };
}

export interface SimulatedCase {
  name: string;
  train: TrainingData;
  /** With `segments.zone` and `segments.daypart`. */
  valid: TrainingData;
  test: TrainingData;
  /** Minutes since the history's start. */
  times: { placed: Float64Array; delivered: Float64Array };
  /** The shifted zone and the break's minute, when there is one. */
  shift?: { zone: string; atMinute: number; factor: number };
  orders: number;
  zones: number;
}

/** Dayparts of the local hour: the city's stores mostly open 11:00–23:00. */
export function daypart(hour: number): string {
  if (Number.isNaN(hour)) return '';
  if (hour < 11) return 'morning';
  if (hour < 14.5) return 'lunch';
  if (hour < 18) return 'afternoon';
  if (hour < 21.5) return 'dinner';
  return 'late';
}

/** Zones by the popularity of their stores, busiest first (orders follow popularity). */
function zonesByPopularity(seed: number, stores: number): Array<{ zone: string; storeIds: string[] }> {
  const city = buildCity({ seed, stores });
  const share = new Map<string, { weight: number; storeIds: string[] }>();
  city.stores.forEach((s, i) => {
    const z = storeZone(s.location);
    const w = city.popularity[i]! - (i > 0 ? city.popularity[i - 1]! : 0);
    const e = share.get(z) ?? { weight: 0, storeIds: [] };
    e.weight += w;
    e.storeIds.push(s.storeId);
    share.set(z, e);
  });
  return [...share]
    .sort((a, b) => b[1].weight - a[1].weight || a[0].localeCompare(b[0]))
    .map(([zone, e]) => ({ zone, storeIds: e.storeIds }));
}

export function simulatedCity(options: SimulatedCityOptions): SimulatedCase {
  const startMs = options.startMs ?? Date.UTC(2026, 0, 5);
  const split = options.split ?? { train: 0.55, valid: 0.15 };
  const zones = zonesByPopularity(options.seed, options.stores);
  const shifted = options.shift && zones[options.shift.zoneRank];
  if (options.shift && !shifted) throw new RangeError(`no zone of rank ${options.shift.zoneRank}`);
  const shiftMs = options.shift ? startMs + options.shift.atDay * DAY : Infinity;
  const history = generateHistory({
    seed: options.seed,
    days: options.days,
    stores: options.stores,
    ordersPerDay: options.ordersPerDay,
    startMs,
    ...(shifted
      ? { prepShift: { storeIds: shifted.storeIds, factor: options.shift!.factor, fromMs: shiftMs } }
      : {}),
  });
  const O = history.orders;
  // Every order, delivered or not: a break changes which orders get delivered, never when they were placed, so
  // the same seed with and without it splits at the same instants and trains the same model.
  const created = Float64Array.from(O.createdAtMs).sort();
  const trainEndMs = created[Math.floor(created.length * split.train)]!;
  const validEndMs = created[Math.floor(created.length * (split.train + split.valid))]!;
  if (validEndMs > shiftMs) throw new RangeError('the break must fall in the test split');
  const speeds = ZoneSpeedTable.fromJSON(learnSpeedsBefore(history, trainEndMs));
  if (!speeds.ok) throw new Error(`learned speeds are invalid: ${speeds.error}`);
  const table = buildTrainingTable(history, { speeds: speeds.value });
  const zoneOfStore = new Map(history.stores.map((s) => [s.storeId, storeZone(s.location)]));
  const hour = table.columns[table.spec.findIndex((s) => s.name === 'hour_local')]!;
  const zone = Array.from(table.orderIndex, (i) => zoneOfStore.get(O.storeIds[O.store[i]!]!)!);
  const part = Array.from(hour, daypart);
  const bound = (t: number): number => table.createdAtMs.findIndex((c) => c >= t);
  const nTrain = bound(trainEndMs);
  const nValid = bound(validEndMs);
  const slice = (from: number, to: number): TrainingData => ({
    spec: table.spec,
    columns: table.columns.map((c) => c.slice(from, to)),
    // Minutes, as the datasets: widths read the same in every table.
    target: table.target.slice(from, to).map((s) => s / 60),
    segments: { zone: zone.slice(from, to), daypart: part.slice(from, to) },
  });
  const minutes = (ms: number): number => (ms - startMs) / 60_000;
  const testOrders = table.orderIndex.subarray(nValid);
  return {
    name: 'simulator',
    train: slice(0, nTrain),
    valid: slice(nTrain, nValid),
    test: slice(nValid, table.nRows),
    times: {
      placed: Float64Array.from(testOrders, (i) => minutes(O.createdAtMs[i]!)),
      delivered: Float64Array.from(testOrders, (i) => minutes(O.deliveredAtMs[i]!)),
    },
    ...(shifted
      ? { shift: { zone: shifted.zone, atMinute: minutes(shiftMs), factor: options.shift!.factor } }
      : {}),
    orders: table.nRows,
    zones: new Set(zone).size,
  };
}

/** The platform's training parameters (src/pipeline), with per-segment calibration on `columns`. */
export async function trainSimulated(c: SimulatedCase, columns: string[]): Promise<ModelArtifact> {
  return train(c.train, c.valid, { ...DEFAULT_TRAIN_PARAMS, segmentColumns: columns });
}

/** Sliding-window coverage after the break, at the zone's k-th outcome (delivery order). */
export interface RecoveryPoint {
  outcome: number;
  coverage: Record<Method, number>;
}

export interface RecoveryResult {
  zone: string;
  factor: number;
  /** Outcomes of the zone's orders placed after the break. */
  outcomes: number;
  window: number;
  curve: RecoveryPoint[];
  /** The sliding coverage at the 500th outcome, per method. */
  at500: Record<Method, number> | null;
  /** Before the break, the zone's test outcomes: coverage per method. */
  zoneBefore: { n: number; coverage: Record<Method, number> };
  /** Every other zone after the break: outcomes and coverage per method. */
  otherZones: Array<{ zone: string; n: number; coverage: Record<Method, number>; band: [number, number] }>;
  /** Mean width per method over the other zones' outcomes after the break. */
  othersWidth: Record<Method, number>;
  othersPooled: { n: number; coverage: Record<Method, number> };
}

/**
 * Replays the test split with per-zone calibration and follows the shifted zone's outcomes after the break: the
 * coverage of its last `window` outcomes, as each comes back.
 */
export function recovery(
  c: SimulatedCase,
  artifact: ModelArtifact,
  options: { online?: OnlineSegmentOptions; window?: number; every?: number; withholdBroken?: boolean } = {},
): RecoveryResult {
  if (!c.shift) throw new RangeError('the case has no break');
  const window = options.window ?? 200;
  const every = options.every ?? 25;
  const labels = Array.from(c.test.segments!.zone!);
  const dayparts = c.test.segments!.daypart!;
  const after = (i: number): boolean => c.times.placed[i]! >= c.shift!.atMinute;
  const rows = replay({
    artifact,
    test: c.test,
    segmentOf: (i) => ({ zone: labels[i], daypart: dayparts[i] }),
    placed: c.times.placed,
    delivered: c.times.delivered,
    ...(options.online ? { online: options.online } : {}),
    // The broken zone's outcomes after the break kept from every online state: what others see without them.
    ...(options.withholdBroken
      ? { observed: (i: number) => !(labels[i] === c.shift!.zone && after(i)) }
      : {}),
  });
  const mean = (m: Method, idx: number[]): number =>
    idx.reduce((s, i) => s + rows[m].inside[i]!, 0) / idx.length;
  const coverage = (idx: number[]): Record<Method, number> =>
    Object.fromEntries(METHODS.map((m) => [m, idx.length > 0 ? mean(m, idx) : NaN])) as Record<
      Method,
      number
    >;
  const zoneRows = labels.flatMap((z, i) => (z === c.shift!.zone && after(i) ? [i] : []));
  zoneRows.sort((a, b) => c.times.delivered[a]! - c.times.delivered[b]!);
  const curve: RecoveryPoint[] = [];
  for (let k = every; k <= zoneRows.length; k += every)
    curve.push({ outcome: k, coverage: coverage(zoneRows.slice(Math.max(0, k - window), k)) });
  const before = labels.flatMap((z, i) => (z === c.shift!.zone && !after(i) ? [i] : []));
  const others = new Map<string, number[]>();
  labels.forEach((z, i) => {
    if (z === c.shift!.zone || !after(i)) return;
    let g = others.get(z);
    if (!g) others.set(z, (g = []));
    g.push(i);
  });
  const otherRows = [...others.values()].flat();
  return {
    zone: c.shift.zone,
    factor: c.shift.factor,
    outcomes: zoneRows.length,
    window,
    curve,
    at500: zoneRows.length >= 500 ? coverage(zoneRows.slice(500 - window, 500)) : null,
    zoneBefore: { n: before.length, coverage: coverage(before) },
    otherZones: [...others]
      .sort((a, b) => b[1].length - a[1].length)
      .map(([zone, idx]) => {
        const [lo, hi] = binomialBand(idx.length);
        return { zone, n: idx.length, coverage: coverage(idx), band: [lo - BAND_SLACK, hi + BAND_SLACK] };
      }),
    othersPooled: { n: otherRows.length, coverage: coverage(otherRows) },
    othersWidth: Object.fromEntries(
      METHODS.map((m) => [m, otherRows.reduce((s, i) => s + rows[m].width[i]!, 0) / otherRows.length]),
    ) as Record<Method, number>,
  };
}
