import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../src/features/index.js';
import { ZoneSpeedTable } from '../src/geo/index.js';
import {
  buildTrainingTable,
  buildTrainingTableSql,
  compactEventLog,
  flattenEvent,
  forgetInLake,
  historyFromEvents,
  historyToEvents,
  lakeEventsRelation,
  openDuck,
  prepareEtl,
  shadowFromLake,
  writeEventsToLake,
  type FlatEvent,
  type TrainingTable,
} from '../src/pipeline/index.js';
import { generateHistory } from '../src/simulator/index.js';

const speeds = ZoneSpeedTable.defaults(18, 'Europe/Paris', 7);
const history = generateHistory({
  seed: 21,
  days: 3,
  stores: 15,
  ordersPerDay: 300,
  startMs: Date.UTC(2026, 0, 5),
});
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The SQL ETL over these events, through the lake's Parquet files. */
async function sqlTable(events: FlatEvent[], lake: string): Promise<{ table: TrainingTable; ids: string[] }> {
  await writeEventsToLake(lake, events);
  const duck = await openDuck();
  try {
    await prepareEtl(duck, lakeEventsRelation(lake), history.stores);
    const h = await historyFromEvents(duck, history.stores);
    const table = await buildTrainingTableSql(duck, h, { speeds });
    return { table, ids: Array.from(table.orderIndex, (i) => h.orders.orderId(i)) };
  } finally {
    duck.close();
  }
}

const rowOf = (t: TrainingTable, r: number): number[] => t.columns.map((c) => c[r]!);

describe('the SQL ETL over the Parquet lake', () => {
  it('builds the same feature columns as the TypeScript training table for the same orders', async () => {
    const ts = buildTrainingTable(history, { speeds });
    const { table: sql, ids } = await sqlTable(historyToEvents(history), path.join(dir, 'same'));
    expect(sql.nRows).toBe(ts.nRows);
    expect(ids).toEqual(Array.from(ts.orderIndex, (i) => history.orders.orderId(i)));
    expect(Array.from(sql.target)).toEqual(Array.from(ts.target));
    const ewma = FEATURE_NAMES.indexOf('prep_ewma_s');
    let known = 0;
    for (let f = 0; f < FEATURE_NAMES.length; f++) {
      for (let r = 0; r < ts.nRows; r++) {
        const a = sql.columns[f]![r]!;
        const b = ts.columns[f]![r]!;
        if (Number.isNaN(b)) {
          expect(a, `${FEATURE_NAMES[f]} row ${r}`).toBeNaN();
        } else if (f === ewma) {
          // LiveState keeps its slots in float32; the SQL sums in float64.
          expect(Math.abs(a - b), `prep_ewma_s row ${r}`).toBeLessThanOrEqual(1e-4 * b);
          known++;
        } else expect(a, `${FEATURE_NAMES[f]} row ${r}`).toBe(b);
      }
    }
    expect(known).toBeGreaterThan(ts.nRows / 2);
  });

  it('never changes an order’s row for events after its creation (no leakage)', async () => {
    const events = historyToEvents(history);
    const base = await sqlTable(events, path.join(dir, 'base'));
    const cutoff = base.table.createdAtMs[Math.floor(base.table.nRows / 2)]!;
    // After the cutoff, every kitchen is instant and every basket bigger; new orders flood the kitchens.
    const altered: FlatEvent[] = events.map((e) => {
      if (e.occurred_ms <= cutoff) return e;
      if (e.type === 'order.ready') return { ...e, occurred_ms: e.occurred_ms - 1 };
      if (e.type === 'order.created') return { ...e, items: (e.items ?? 0) + 5 };
      if (e.type === 'rider.location') return { ...e, available: !e.available };
      return e;
    });
    const s = history.stores[0]!.storeId;
    for (let i = 0; i < 50; i++) {
      const at = cutoff + 1 + i;
      const o = { order_id: `late-${i}`, store_id: s, rider_id: null, dest_lat: null, dest_lng: null };
      altered.push(
        { ...events[0]!, ...o, event_id: `late-${i}-a`, type: 'order.accepted', occurred_ms: at },
        { ...events[0]!, ...o, event_id: `late-${i}-r`, type: 'order.ready', occurred_ms: at + 1 },
      );
    }
    const changed = await sqlTable(altered, path.join(dir, 'changed'));
    const byId = new Map(changed.ids.map((id, r) => [id, r]));
    let compared = 0;
    for (let r = 0; r < base.table.nRows && base.table.createdAtMs[r]! <= cutoff; r++, compared++) {
      const other = byId.get(base.ids[r]!);
      expect(other).toBeDefined();
      expect(rowOf(changed.table, other!)).toEqual(rowOf(base.table, r));
    }
    expect(compared).toBeGreaterThan(100);
    const last = base.table.nRows - 1;
    expect(rowOf(changed.table, byId.get(base.ids[last]!)!)).not.toEqual(rowOf(base.table, last));
  });

  it('compacts the event log into date/hour partitions once, resuming from its checkpoint', async () => {
    const lake = path.join(dir, 'lake');
    const flat = historyToEvents(history, { pings: false }).slice(0, 3000);
    const records = flat.map((e, i) => ({
      offset: String(i),
      event: {
        event_id: e.event_id,
        type: e.type,
        occurred_at: new Date(e.occurred_ms).toISOString(),
        order_id: e.order_id,
        store_id: e.store_id,
        ...(e.dest_lat !== null ? { destination: { lat: e.dest_lat, lng: e.dest_lng } } : {}),
        ...(e.items !== null ? { items: e.items, subtotal: e.subtotal } : {}),
      },
    }));
    records.push({
      offset: '3000',
      event: { event_id: 'app-1', type: 'app.opened', occurred_at: new Date().toISOString() },
    } as never);
    const source = {
      async read(from: string | 'earliest' | { offset: string }, max: number) {
        const start = from === 'earliest' ? 0 : Number((from as { offset: string }).offset);
        const page = records.slice(start, start + max);
        return { records: page, next: String(start + page.length) };
      },
    };
    const first = await compactEventLog(source, lake, { batch: 1000 });
    expect(first).toMatchObject({ events: 3000, skipped: 1, next: '3001' });
    expect(await compactEventLog(source, lake)).toMatchObject({ events: 0, from: '3001' });
    const days = (await readdir(path.join(lake, 'events'))).filter((d) => d.startsWith('date='));
    expect(days.length).toBeGreaterThanOrEqual(1);
    const hours = await readdir(path.join(lake, 'events', days[0]!));
    expect(hours.every((h) => /^hour=\d+$/.test(h))).toBe(true);
    const duck = await openDuck();
    try {
      const [row] = await duck.all<{ n: number; ids: number }>(
        `SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS ids FROM ${lakeEventsRelation(lake)}`,
      );
      expect(Number(row!.n)).toBe(3000);
      expect(Number(row!.ids)).toBe(3000);
    } finally {
      duck.close();
    }
  });

  it('forgets an order in the lake when the log forgets it', async () => {
    const lake = path.join(dir, 'forget');
    const flat = historyToEvents(history, { pings: false }).slice(0, 2000);
    await writeEventsToLake(lake, flat);
    const victim = flat[0]!.order_id!;
    const theirs = flat.filter((e) => e.order_id === victim).length;
    expect(await forgetInLake(lake, { orderIds: [victim], riderIds: [] })).toBe(theirs);
    const duck = await openDuck();
    try {
      const [row] = await duck.all<{ n: number; mine: number }>(
        `SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE order_id = '${victim}') AS mine FROM ${lakeEventsRelation(lake)}`,
      );
      expect(Number(row!.mine)).toBe(0);
      expect(Number(row!.n)).toBe(2000 - theirs);
    } finally {
      duck.close();
    }
  });

  it('joins shadow predictions to the orders they became and their deliveries', async () => {
    const lake = path.join(dir, 'shadow');
    const delivered = [...history.orders].filter((o) => o.delivered_at_ms !== null).slice(0, 40);
    const shadow = delivered.map((o, i) => {
      const actual = (o.delivered_at_ms! - o.created_at_ms) / 1000;
      // Half the requests were a canary (answered by v2, shadowed by v1): the join must not care who served.
      const [served, other] = i % 2 === 0 ? ['v1', 'v2'] : ['v2', 'v1'];
      const p50 = (v: string): number => actual + (v === 'v1' ? 60 : 120);
      return flattenEvent({
        event_id: `shadow-${i}`,
        type: 'app.shadow_prediction',
        occurred_at: new Date(o.created_at_ms).toISOString(),
        store_id: o.store_id,
        destination: o.destination,
        ordered_at: new Date(o.created_at_ms - 1000).toISOString(),
        served: { version: served, p50: p50(served!) },
        shadow: { version: other, p50: p50(other!) },
      })!;
    });
    await writeEventsToLake(lake, [...historyToEvents(history, { pings: false }), ...shadow]);
    const window = { fromMs: history.startMs, toMs: history.endMs };
    const summary = await shadowFromLake(lake, 'v1', 'v2', window);
    expect(summary?.samples).toBe(40);
    expect(summary?.championMaeS).toBeCloseTo(60, 6);
    expect(summary?.challengerMaeS).toBeCloseTo(120, 6);
    expect(await shadowFromLake(lake, 'v1', undefined, window)).toBeUndefined();
  });
});
