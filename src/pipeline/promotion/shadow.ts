import { stat } from 'node:fs/promises';
import path from 'node:path';
import { openDuck } from '../etl/duckdb.js';
import { SHADOW_EVENT, SHADOW_MATCH_MS as MATCH_MS } from '../etl/history-events.js';
import { lakeEventsRelation } from '../etl/lake.js';
import type { ShadowSummary } from './policy.js';

/** A quote and the order it became: same store, same destination, created within this of the quote. */

/**
 * The shadow join, offline: `app.shadow_prediction` events (both models' p50 for one live request) matched to the
 * order that request became (`order.created` at the same store and destination, moments later) and its delivery.
 * Gives the online MAE of the champion and the challenger on the same orders: what the policy's shadow rule reads.
 */
export async function shadowFromLake(
  lake: string,
  champion: string | undefined,
  challenger: string | undefined,
  window: { fromMs: number; toMs: number },
): Promise<ShadowSummary | undefined> {
  if (!champion || !challenger) return undefined;
  if (
    !(await stat(path.join(lake, 'events')).then(
      () => true,
      () => false,
    ))
  )
    return undefined;
  const duck = await openDuck();
  try {
    const rows = await duck.all<{
      served_version: string;
      served_p50: number;
      shadow_version: string;
      shadow_p50: number;
      actual_s: number;
    }>(`
WITH ev AS (
  SELECT * FROM (
    SELECT e.*, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY occurred_ms) AS dup
    FROM ${lakeEventsRelation(lake)} e
    WHERE occurred_ms >= ${window.fromMs} AND occurred_ms < ${window.toMs + 86_400_000}
  ) d WHERE dup = 1
),
shadow AS (
  SELECT store_id, dest_lat, dest_lng, ordered_ms, served_version, served_p50, shadow_version, shadow_p50
  FROM ev WHERE type = '${SHADOW_EVENT}' AND ordered_ms >= ${window.fromMs} AND ordered_ms < ${window.toMs}
),
orders AS (
  SELECT order_id,
    MAX(CASE WHEN type = 'order.created' THEN store_id END) AS store_id,
    MAX(CASE WHEN type = 'order.created' THEN dest_lat END) AS dest_lat,
    MAX(CASE WHEN type = 'order.created' THEN dest_lng END) AS dest_lng,
    MIN(CASE WHEN type = 'order.created' THEN occurred_ms END) AS created_ms,
    MIN(CASE WHEN type = 'order.delivered' THEN occurred_ms END) AS delivered_ms
  FROM ev WHERE type IN ('order.created', 'order.delivered') GROUP BY order_id
)
SELECT s.served_version, s.served_p50, s.shadow_version, s.shadow_p50, (o.delivered_ms - o.created_ms) / 1000.0 AS actual_s
FROM shadow s JOIN orders o
  ON o.store_id = s.store_id AND o.dest_lat = s.dest_lat AND o.dest_lng = s.dest_lng
 AND o.created_ms BETWEEN s.ordered_ms - ${MATCH_MS} AND s.ordered_ms + ${MATCH_MS}
WHERE o.delivered_ms IS NOT NULL`);
    let n = 0;
    let champ = 0;
    let chall = 0;
    for (const r of rows) {
      const p50Of = (version: string): number | undefined =>
        r.served_version === version
          ? Number(r.served_p50)
          : r.shadow_version === version
            ? Number(r.shadow_p50)
            : undefined;
      const a = p50Of(champion);
      const b = p50Of(challenger);
      if (a === undefined || b === undefined) continue;
      n++;
      champ += Math.abs(a - Number(r.actual_s));
      chall += Math.abs(b - Number(r.actual_s));
    }
    return n === 0 ? undefined : { samples: n, championMaeS: champ / n, challengerMaeS: chall / n };
  } catch {
    // Parquet written before shadow columns existed: no shadow comparisons yet.
    return undefined;
  } finally {
    duck.close();
  }
}
