import { latLngToCell } from 'h3-js';
import type { Model } from '../../model/index.js';
import { metricsOf, predictRange } from './evaluate.js';
import type { TrainingTable } from '../etl/training-table.js';
import type { OrderHistory } from '../history.js';

/** One model's answers on the hold-out rows, and the metrics that follow from them. */
export interface HoldoutScores {
  version: string;
  metrics: Record<string, number>;
  /** Per hold-out row: p10, p50, p90 (NaN where the model has no such output). */
  p10: Float64Array;
  p50: Float64Array;
  p90: Float64Array;
}

/** The hold-out rows of a trained table with what a report groups them by. */
export interface Holdout {
  from: number;
  to: number;
  actual: Float64Array;
  hour: Int32Array;
  zone: string[];
  storeDecile: Int32Array;
}

const ZONE_RESOLUTION = 7;

export function describeHoldout(
  table: TrainingTable,
  history: OrderHistory,
  from: number,
  to: number,
): Holdout {
  const n = to - from;
  const hourCol = table.columns[table.spec.findIndex((s) => s.name === 'hour_local')]!;
  const stores = new Map(history.stores.map((s) => [s.storeId, s]));
  const storeOf = (r: number): string => {
    const i = table.orderIndex[r]!;
    return i >= 0 && i < history.orders.length ? history.orders.storeId(i) : '?';
  };
  const volume = new Map<string, number>();
  for (let r = from; r < to; r++) volume.set(storeOf(r), (volume.get(storeOf(r)) ?? 0) + 1);
  // Decile 1 = the busiest tenth of stores by hold-out orders.
  const ranked = [...volume.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const decileOf = new Map(ranked.map(([id], i) => [id, 1 + Math.floor((i * 10) / ranked.length)]));
  const zones = new Map<string, string>();
  const zoneOf = (id: string): string => {
    let z = zones.get(id);
    if (z === undefined) {
      const s = stores.get(id);
      z = s ? latLngToCell(s.location.lat, s.location.lng, ZONE_RESOLUTION) : 'unknown';
      zones.set(id, z);
    }
    return z;
  };
  const holdout: Holdout = {
    from,
    to,
    actual: table.target.slice(from, to),
    hour: new Int32Array(n),
    zone: new Array<string>(n),
    storeDecile: new Int32Array(n),
  };
  for (let i = 0; i < n; i++) {
    const id = storeOf(from + i);
    holdout.hour[i] = Math.floor(hourCol[from + i]!);
    holdout.zone[i] = zoneOf(id);
    holdout.storeDecile[i] = decileOf.get(id) ?? 10;
  }
  return holdout;
}

/** Scores a model on rows [from, to) of the table: the same rows for the new model and the champion. */
export function scoreHoldout(
  model: Model,
  version: string,
  table: TrainingTable,
  from: number,
  to: number,
): HoldoutScores {
  const n = to - from;
  const nOut = model.outputNames.length;
  const out = predictRange(model, table, from, to);
  const at = (name: string): number => model.outputNames.indexOf(name);
  const pick = (k: number): Float64Array =>
    Float64Array.from({ length: n }, (_, i) => (k < 0 ? Number.NaN : out[i * nOut + k]!));
  const mid = at('p50') >= 0 ? at('p50') : 0;
  return {
    version,
    metrics: metricsOf(model.outputNames, out, table, from, to),
    p10: pick(at('p10')),
    p50: pick(mid),
    p90: pick(at('p90')),
  };
}

/** MAE in seconds per group, groups in key order. */
export function maeBy<K extends string | number>(
  keys: ArrayLike<K>,
  predicted: Float64Array,
  actual: Float64Array,
): Array<{ key: K; n: number; mae_s: number }> {
  const sums = new Map<K, { n: number; abs: number }>();
  for (let i = 0; i < actual.length; i++) {
    const k = keys[i]!;
    const s = sums.get(k) ?? { n: 0, abs: 0 };
    s.n++;
    s.abs += Math.abs(predicted[i]! - actual[i]!);
    sums.set(k, s);
  }
  return [...sums.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([key, s]) => ({ key, n: s.n, mae_s: s.abs / s.n }));
}
