/**
 * The ETL in plain SQL: window functions and range joins only (no ASOF JOIN, no QUALIFY, no recursive CTE), so the
 * same statements run on DuckDB, Trino and Spark SQL with the substitutions listed in docs/etl-warehouse.md. Inputs
 * are two relations, `events` (the lake's flat events) and `stores` (store_id, category, timezone, prep_mean_s).
 */

export interface EtlParams {
  /** Rows only for orders created in [fromMs, toMs); state still builds from everything before. */
  fromMs: number;
  toMs: number;
  /** The store module's EWMA weight and kitchen TTL, as online. */
  alpha: number;
  kitchenTtlMs: number;
}

/**
 * Exponential weights older than this many prep times are below 1e-12 of the newest and are dropped; keeping the
 * exponent inside a block of this size keeps POWER() finite however long the history is.
 */
export function ewmaBlock(alpha: number): number {
  return Math.max(1, Math.ceil(Math.log(1e-12) / Math.log(1 - Math.min(alpha, 0.999999))));
}

/** Local hour of week (Monday 00:00 = 0) of an epoch-ms column in a timezone column. */
const hourOfWeek = (ms: string, tz: string): string =>
  `((EXTRACT(isodow FROM (to_timestamp(${ms} / 1000.0) AT TIME ZONE ${tz})) - 1) * 24 + EXTRACT(hour FROM (to_timestamp(${ms} / 1000.0) AT TIME ZONE ${tz})))`;

/**
 * One row per delivered order created in the window with the store-state features as of its creation:
 * `orders_in_kitchen` (accepted strictly before, within the TTL, not yet ready or cancelled strictly before) and
 * `prep_ewma_s` (the EWMA of prep times that ended strictly before, for the order's local hour of week, else the
 * nearest neighbouring hours', else the store's overall EWMA). Mirrors the store module's LiveState exactly.
 *
 * Reads `orders` (ORDERS_TABLE_SQL: one row per order, numbered `idx` in creation order) and answers `idx` with the
 * two features, unordered. Every feature is partitioned by store, so `storeIds` (a group of stores) gives exactly
 * those stores' rows of the whole answer: the caller runs one group at a time to bound the sorts and windows.
 */
export function trainingRowsSql(p: EtlParams, storeIds?: readonly string[]): string {
  const q = 1 - p.alpha;
  const m = ewmaBlock(p.alpha);
  const neighbours = [0, -1, 1, -2, 2, -3, 3];
  const slotOf = (d: number): string => (d === 0 ? 'v0' : d < 0 ? `vm${-d}` : `vp${d}`);
  const avg = (d: number): string =>
    `CASE WHEN vm${d} IS NULL AND vp${d} IS NULL THEN NULL ELSE (COALESCE(vm${d}, 0) + COALESCE(vp${d}, 0)) / ((CASE WHEN vm${d} IS NULL THEN 0 ELSE 1 END) + (CASE WHEN vp${d} IS NULL THEN 0 ELSE 1 END)) END`;
  const group = storeIds ? ` AND o.store_id IN (${storeIds.map(quote).join(', ')})` : '';
  return `
WITH known AS (
  SELECT o.idx, o.order_id, o.store_id, o.created_ms, o.accepted_ms, o.ready_ms, o.delivered_ms, s.timezone,
    COALESCE(o.ready_ms, o.cancelled_ms) AS left_ms
  FROM orders o JOIN stores s ON s.store_id = o.store_id
  WHERE o.created_ms IS NOT NULL${group}
),
targets AS (
  SELECT * FROM known
  WHERE delivered_ms IS NOT NULL AND created_ms >= ${p.fromMs} AND created_ms < ${p.toMs}
),
kitchen_hits AS (
  -- An inner range join (the OR in WHERE, not ON): engines plan it as a hash or range join per store. In the ON of
  -- an outer join it made DuckDB compare every target with every order, quadratic in the window.
  SELECT t.idx, COUNT(*) AS n
  FROM targets t JOIN known k
    ON k.store_id = t.store_id
   AND k.accepted_ms < t.created_ms
   AND k.accepted_ms > t.created_ms - ${p.kitchenTtlMs}
  WHERE k.left_ms IS NULL OR k.left_ms >= t.created_ms
  GROUP BY t.idx
),
kitchen AS (
  SELECT t.idx, COALESCE(h.n, 0) AS orders_in_kitchen
  FROM targets t LEFT JOIN kitchen_hits h ON h.idx = t.idx
),
preps AS (
  SELECT store_id, order_id, created_ms, ready_ms AS at_ms, (ready_ms - accepted_ms) / 1000.0 AS x,
    ${hourOfWeek('accepted_ms', 'timezone')} AS slot
  FROM known
  WHERE accepted_ms IS NOT NULL AND ready_ms IS NOT NULL AND ready_ms > accepted_ms
    AND ready_ms - accepted_ms <= ${p.kitchenTtlMs}
),
prep_series AS (
  SELECT store_id, slot, order_id, created_ms, at_ms, x FROM preps
  UNION ALL
  SELECT store_id, -1 AS slot, order_id, created_ms, at_ms, x FROM preps
),
numbered AS (
  SELECT s.*, ROW_NUMBER() OVER (PARTITION BY store_id, slot ORDER BY at_ms, created_ms, order_id) AS k
  FROM prep_series s
),
blocked AS (
  SELECT n.*, FLOOR((k - 1) / ${m}) AS b, CASE WHEN k = 1 THEN 1.0 ELSE ${p.alpha} END AS c FROM numbered n
),
running AS (
  SELECT bl.*, SUM(c * x * POWER(${q}, b * ${m} - k))
    OVER (PARTITION BY store_id, slot, b ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS same_block
  FROM blocked bl
),
block_totals AS (
  SELECT store_id, slot, b, SUM(c * x * POWER(${q}, (b + 1) * ${m} - k)) AS g FROM blocked GROUP BY store_id, slot, b
),
ewma AS (
  SELECT r.store_id, r.slot, r.at_ms, r.k, POWER(${q}, r.k - r.b * ${m}) * (r.same_block + COALESCE(t.g, 0)) AS v
  FROM running r LEFT JOIN block_totals t ON t.store_id = r.store_id AND t.slot = r.slot AND t.b = r.b - 1
),
offsets AS (
  ${neighbours.map((d) => `SELECT ${d} AS d`).join(' UNION ALL ')} UNION ALL SELECT 99 AS d
),
target_hours AS (
  -- Once an order: the time zone conversion is the costly part, not the eight probes.
  SELECT idx, store_id, created_ms, ${hourOfWeek('created_ms', 'timezone')} AS how FROM targets
),
probes AS (
  SELECT t.idx, t.store_id, t.created_ms, o.d,
    CASE WHEN o.d = 99 THEN -1 ELSE MOD(t.how + o.d + 168, 168) END AS slot
  FROM target_hours t CROSS JOIN offsets o
),
stream AS (
  SELECT store_id, slot, at_ms AS t, 1 AS kind, k, v, CAST(NULL AS BIGINT) AS idx, CAST(NULL AS INTEGER) AS d FROM ewma
  UNION ALL
  SELECT store_id, slot, created_ms AS t, 0 AS kind, 0 AS k, CAST(NULL AS DOUBLE) AS v, idx, d FROM probes
),
as_of AS (
  SELECT idx, d, LAST_VALUE(v IGNORE NULLS)
    OVER (PARTITION BY store_id, slot ORDER BY t, kind, k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS v, kind
  FROM stream
),
slots AS (
  SELECT idx,
    ${neighbours.map((d) => `MAX(CASE WHEN d = ${d} THEN v END) AS ${slotOf(d)}`).join(',\n    ')},
    MAX(CASE WHEN d = 99 THEN v END) AS overall
  FROM as_of WHERE kind = 0 GROUP BY idx
)
SELECT t.idx, k.orders_in_kitchen,
  COALESCE(s.v0, ${avg(1)}, ${avg(2)}, ${avg(3)}, s.overall) AS prep_ewma_s
FROM targets t
JOIN kitchen k ON k.idx = t.idx
JOIN slots s ON s.idx = t.idx`;
}

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * Each order's lifecycle, for the targets and the zone speeds (rides that ended before the training cut), numbered
 * `idx` in creation order (the order of `OrderTable`): built once as a table, so the per-store-group ETL queries
 * read a million rows rather than every event again. A batch compacted twice (a crash between its Parquet and its
 * checkpoint) repeats identical rows, which MIN and MAX ignore: no pass over every event by `event_id` first, which
 * over a year of events needed more memory than the whole run.
 */
export const ORDERS_TABLE_SQL = `
CREATE OR REPLACE TABLE orders AS
SELECT *, ROW_NUMBER() OVER (ORDER BY created_ms, order_id) - 1 AS idx FROM (
  SELECT order_id,
    MAX(CASE WHEN type = 'order.created' THEN store_id END) AS store_id,
    MAX(CASE WHEN type IN ('order.picked_up', 'order.delivered') THEN rider_id END) AS rider_id,
    MIN(CASE WHEN type = 'order.created' THEN occurred_ms END) AS created_ms,
    MIN(CASE WHEN type = 'order.accepted' THEN occurred_ms END) AS accepted_ms,
    MIN(CASE WHEN type = 'order.ready' THEN occurred_ms END) AS ready_ms,
    MIN(CASE WHEN type = 'order.picked_up' THEN occurred_ms END) AS picked_up_ms,
    MIN(CASE WHEN type = 'order.delivered' THEN occurred_ms END) AS delivered_ms,
    MIN(CASE WHEN type = 'order.cancelled' THEN occurred_ms END) AS cancelled_ms,
    MAX(CASE WHEN type = 'order.created' THEN dest_lat END) AS dest_lat,
    MAX(CASE WHEN type = 'order.created' THEN dest_lng END) AS dest_lng,
    MAX(CASE WHEN type = 'order.created' THEN items END) AS items,
    MAX(CASE WHEN type = 'order.created' THEN subtotal END) AS subtotal
  FROM events WHERE type LIKE 'order.%' GROUP BY order_id
  HAVING MIN(CASE WHEN type = 'order.created' THEN occurred_ms END) IS NOT NULL
) lifecycle`;

export const ORDERS_SQL = 'SELECT * FROM orders ORDER BY idx';

/**
 * Rider positions in time order, for the geo module's rider-supply replay. A repeated ping (a batch compacted twice)
 * sets the same position again, which changes nothing, so pings are not deduplicated.
 */
export const PINGS_SQL = `
SELECT rider_id, occurred_ms, lat, lng, available
FROM events WHERE type = 'rider.location' AND lat IS NOT NULL AND lng IS NOT NULL
ORDER BY occurred_ms, rider_id`;
