import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZoneSpeedTable } from '../../geo/index.js';
import { generateHistory } from '../../simulator/index.js';
import { EVENT_COLUMNS, openDuck, sqlString } from './duckdb.js';
import { flattenEvent, historyToEvents } from './history-events.js';
import { lakeEventsRelation, lakeEventsRelationFor, writeEventsToLake } from './lake.js';
import { parquetData } from './sources.js';
import { buildTrainingTableSql, historyFromEvents, prepareEtl } from './sql-training-table.js';

const speeds = ZoneSpeedTable.defaults(18, 'Europe/Paris', 7);
const history = generateHistory({
  seed: 5,
  days: 2,
  stores: 12,
  ordersPerDay: 250,
  startMs: Date.UTC(2026, 2, 2),
});
let dir: string;
let lake: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sql-table-'));
  lake = path.join(dir, 'lake');
  await writeEventsToLake(lake, historyToEvents(history));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the SQL training table', () => {
  it('is the same whether the stores run in one query or in many small groups', async () => {
    const duck = await openDuck({ onDisk: true, lean: true });
    try {
      await prepareEtl(duck, lakeEventsRelation(lake), history.stores);
      const h = await historyFromEvents(duck, history.stores);
      const whole = await buildTrainingTableSql(duck, h, { speeds });
      // About two stores a group: many groups, none splitting a store.
      const grouped = await buildTrainingTableSql(duck, h, { speeds, groupOrders: 90 });
      expect(whole.nRows).toBeGreaterThan(300);
      expect(grouped.nRows).toBe(whole.nRows);
      expect(Array.from(grouped.orderIndex)).toEqual(Array.from(whole.orderIndex));
      expect(Array.from(grouped.target)).toEqual(Array.from(whole.target));
      grouped.columns.forEach((c, f) => expect(Array.from(c)).toEqual(Array.from(whole.columns[f]!)));
    } finally {
      duck.close();
    }
  });

  it('reads and trains from a lake whose older files lack the newer columns', async () => {
    const mixed = path.join(dir, 'mixed');
    const [first, rest] = splitByOrder(historyToEvents(history));
    const shadow = flattenEvent({
      event_id: 'shadow-1',
      type: 'app.shadow_prediction',
      occurred_at: new Date(Date.UTC(2026, 2, 2, 12)).toISOString(),
      store_id: history.stores[0]!.storeId,
      served: { version: 'v1', p50: 900 },
      shadow: { version: 'v2', p50: 960 },
    })!;
    await writeEventsToLake(mixed, [...rest, shadow]);
    // A file as an older version wrote it, without the shadow columns, sorted before the newer files.
    const old = path.join(mixed, 'events', 'date=2026-03-01', 'hour=0');
    await mkdir(old, { recursive: true });
    const duck = await openDuck();
    try {
      const cols = Object.keys(EVENT_COLUMNS).filter((k) => !/^(served|shadow|ordered)_/.test(k));
      const rows = first
        .map(
          (e) => `(${cols.map((k) => literal((e as unknown as Record<string, unknown>)[k], k)).join(', ')})`,
        )
        .join(', ');
      await duck.conn.run(
        `COPY (SELECT * FROM (VALUES ${rows}) t(${cols.join(', ')})) TO ${sqlString(path.join(old, 'events_old.parquet'))} (FORMAT PARQUET)`,
      );
    } finally {
      duck.close();
    }
    const reader = await openDuck();
    try {
      const [row] = await reader.all<{ served: number }>(
        `SELECT COUNT(served_version) AS served FROM ${await lakeEventsRelationFor(reader, mixed)}`,
      );
      expect(Number(row!.served)).toBe(1);
    } finally {
      reader.close();
    }
    const data = await parquetData(mixed, history.stores);
    try {
      expect(data.history.orders.length).toBe(history.orders.length);
      const table = await data.buildTable!(speeds);
      expect(table.nRows).toBeGreaterThan(300);
    } finally {
      await data.close?.();
    }
  });
});

/** The events of the first order, then all the others. */
function splitByOrder<E extends { order_id: string | null }>(events: E[]): [E[], E[]] {
  const id = events.find((e) => e.order_id !== null)!.order_id;
  return [events.filter((e) => e.order_id === id), events.filter((e) => e.order_id !== id)];
}

function literal(v: unknown, column: string): string {
  const type = EVENT_COLUMNS[column as keyof typeof EVENT_COLUMNS];
  const value = v === null || v === undefined ? 'NULL' : typeof v === 'string' ? sqlString(v) : String(v);
  return `CAST(${value} AS ${type})`;
}
