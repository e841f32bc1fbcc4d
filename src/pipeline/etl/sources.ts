import { stat } from 'node:fs/promises';
import path from 'node:path';
import { generateHistory } from '../../simulator/index.js';
import { openDuck, sqlString } from './duckdb.js';
import { lakeEventsRelation, lakeEventsRelationFor } from './lake.js';
import type { TrainingData } from '../training/run.js';
import {
  assembleTable,
  ordersFromEvents,
  pingsFromEvents,
  prepareEtl,
  storeStateFromSql,
} from './sql-training-table.js';
import type { OrderHistory } from '../history.js';

const DAY = 86_400_000;
/** State (prep EWMAs, kitchens) builds from this much history before a window starts. */
const WARMUP_MS = 7 * DAY;
/** Deliveries of orders created near a window's end finish after it. */
const TAIL_MS = DAY;
/**
 * DuckDB in a training run, beside the orders and pings held in JS. Its resident memory ran about 150 to 300 MB
 * past the limit (window and join state, the allocator), so the limit is small: at 384 MB a year's read held 1.1 GB
 * in all, at 128 MB 0.87 GB, in the same time. Past the limit the ETL's sorts and windows spill to disk, and its
 * `orders` table lives in a database file so that it can leave memory too.
 */
const ETL_DUCK = { memoryLimit: '128MB', onDisk: true, lean: true } as const;

export function simulatedData(o: {
  seed: number;
  days: number;
  stores: number;
  ordersPerDay: number;
  nowMs?: number;
}): TrainingData {
  const now = o.nowMs ?? Date.now();
  const history = generateHistory({
    seed: o.seed,
    days: o.days,
    stores: o.stores,
    ordersPerDay: o.ordersPerDay,
    startMs: Math.floor(now / DAY) * DAY - o.days * DAY,
  });
  return { history, describe: `simulated:seed=${o.seed}:days=${o.days}` };
}

/**
 * Orders from Parquet: the lake written by compaction (`<dir>/events/date=…/hour=…/*.parquet`) or any directory of
 * Parquet files with the lake's event columns. The training table comes from the SQL ETL; the window prunes whole
 * date partitions when the files are partitioned.
 */
export async function parquetData(
  dir: string,
  stores: OrderHistory['stores'],
  window?: { fromMs: number; toMs: number },
): Promise<TrainingData> {
  const isLake = await stat(path.join(dir, 'events')).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const duck = await openDuck(ETL_DUCK);
  let open = true;
  const close = (): void => {
    if (open) duck.close();
    open = false;
  };
  try {
    const base = isLake
      ? await lakeEventsRelationFor(duck, dir)
      : `read_parquet(${sqlString(path.join(dir, '**', '*.parquet'))}, union_by_name = true)`;
    let relation = base;
    if (window) {
      const lo = window.fromMs - WARMUP_MS;
      const hi = window.toMs + TAIL_MS;
      const day = (ms: number): string => sqlString(new Date(ms).toISOString().slice(0, 10));
      const partitions = isLake ? ` AND date >= ${day(lo)} AND date <= ${day(hi)}` : '';
      relation = `(SELECT * FROM ${base} WHERE occurred_ms >= ${lo} AND occurred_ms < ${hi}${partitions})`;
    }
    await prepareEtl(duck, relation, stores);
    // DuckDB's peak (the store-state queries, which need no speeds) meets only the orders in JS, before the rider
    // pings (the largest arrays) are read; DuckDB closes before the table is assembled and boosting starts.
    const orders = await ordersFromEvents(duck);
    const state = await storeStateFromSql(duck, { orders }, { ...window });
    const riderPings = await pingsFromEvents(duck);
    close();
    const history: OrderHistory = { stores, orders, ...(riderPings ? { riderPings } : {}) };
    return {
      history,
      describe: `parquet:${path.basename(dir)}${window ? `:${new Date(window.fromMs).toISOString()}..${new Date(window.toMs).toISOString()}` : ''}`,
      buildTable: async (speeds) => assembleTable(history, state, { speeds, ...window }),
      ...(window ? { window } : {}),
      close: async () => close(),
    };
  } catch (e) {
    close();
    throw e;
  }
}

/**
 * Delivered orders of a window of a lake, without building anything: the schedule asks before choosing a source.
 * An order counts by when it was created, as the training read takes it, and its delivery may come up to a day after
 * the window: the live simulator stamps a delivery with its true (uncompressed) time, ahead of the wall clock, so
 * counting by the delivery's own time found 0 while the accuracy join already saw the deliveries.
 */
export async function countLakeOrders(
  lake: string,
  window: { fromMs: number; toMs: number },
): Promise<number> {
  const exists = await stat(path.join(lake, 'events')).then(
    () => true,
    () => false,
  );
  if (!exists) return 0;
  const duck = await openDuck();
  try {
    const [row] = await duck.all<{ n: number | string }>(
      `SELECT COUNT(DISTINCT c.order_id) AS n
       FROM ${lakeEventsRelation(lake)} c JOIN ${lakeEventsRelation(lake)} d ON d.order_id = c.order_id
       WHERE c.type = 'order.created' AND c.occurred_ms >= ${window.fromMs} AND c.occurred_ms < ${window.toMs}
         AND d.type = 'order.delivered' AND d.occurred_ms < ${window.toMs + TAIL_MS}`,
    );
    return Number(row?.n ?? 0);
  } finally {
    duck.close();
  }
}

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The lake holds too few delivered orders for a production run: it fails, and says how many there were. */
export class LakeTooSmallError extends Error {
  constructor(
    readonly delivered: number,
    readonly needed: number,
    readonly window: { fromMs: number; toMs: number },
  ) {
    super(
      `lake has ${delivered} delivered orders in ${isoDay(window.fromMs)}..${isoDay(window.toMs)}, needs ${needed} (pipeline.minLakeOrders); the source is the lake, so nothing is simulated instead`,
    );
    this.name = 'LakeTooSmallError';
  }
}

/**
 * Production training data: the window of the lake, and nothing else. Too few delivered orders is an error with the
 * counts, never a quiet fallback to simulated history (a model of a made-up city would serve real customers).
 */
export async function lakeOnlyData(
  lake: string,
  stores: OrderHistory['stores'],
  window: { fromMs: number; toMs: number },
  minOrders: number,
): Promise<TrainingData> {
  const delivered = await countLakeOrders(lake, window);
  if (delivered < minOrders) throw new LakeTooSmallError(delivered, minOrders, window);
  return parquetData(lake, stores, window);
}
