import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadEvents, openDuck, sqlString, type Duck } from './duckdb.js';
import { flattenEvent, type FlatEvent, type LogEvent } from './history-events.js';

/** What compaction needs of the event log: `EventLog.read` (src/events) has this shape. */
export interface EventSource {
  read(
    from: string | 'earliest' | { offset: string },
    max: number,
  ): Promise<{ records: ReadonlyArray<{ offset: string; event: LogEvent }>; next: string }>;
}

export const lakeDirOf = (dataDir: string): string => path.join(dataDir, 'lake');
const eventsDir = (lake: string): string => path.join(lake, 'events');
const checkpointFile = (lake: string): string => path.join(lake, '_checkpoint.json');

const lakeGlob = (lake: string): string => sqlString(path.join(eventsDir(lake), '**', '*.parquet'));

/**
 * The lake's events as a relation for SQL: every Parquet file under `events/`, with `date` and `hour` from the
 * Hive-style directory names, so a filter on them skips whole partitions. `union_by_name` reads files written with
 * different columns (a lake older than a column); it costs memory per file, see `lakeEventsRelationFor`.
 */
export function lakeEventsRelation(lake: string, options: { unionByName?: boolean } = {}): string {
  const union = options.unionByName ?? true;
  return `read_parquet(${lakeGlob(lake)}, hive_partitioning = true${union ? ', union_by_name = true' : ''})`;
}

/**
 * The lake's relation for a large read: `union_by_name` only when the files' columns differ. Over a year of hourly
 * files it held about 600 MB of per-file schema state outside DuckDB's memory limit; compaction writes every file
 * with `EVENT_COLUMNS`, so only a lake written by an older version needs it, and the footers say which.
 */
export async function lakeEventsRelationFor(duck: Duck, lake: string): Promise<string> {
  // Column ids are unique within a file, so the files agree exactly when each has every distinct column: rows =
  // files × columns. (A per-file string_agg said the same but ran out of a 384 MB limit over 7,300 files.)
  const [row] = await duck.all<{ files: number; columns: number; rows: number }>(`
SELECT COUNT(DISTINCT file_name) AS files, COUNT(DISTINCT (column_id, name, duckdb_type)) AS columns,
  COUNT(*) AS rows
FROM parquet_schema(${lakeGlob(lake)})`);
  const uniform = row !== undefined && Number(row.rows) === Number(row.files) * Number(row.columns);
  return lakeEventsRelation(lake, { unionByName: !uniform });
}

/**
 * Appends events to the lake as Parquet, partitioned by UTC date and hour. Each write adds files with fresh names
 * and never rewrites old ones; the ETL deduplicates by `event_id`, so a batch written twice (a crash between the
 * write and the checkpoint) changes nothing downstream.
 */
export async function writeEventsToLake(
  lake: string,
  events: readonly FlatEvent[],
  duck?: Duck,
): Promise<{ rows: number }> {
  if (events.length === 0) return { rows: 0 };
  const db = duck ?? (await openDuck());
  try {
    await mkdir(eventsDir(lake), { recursive: true });
    await loadEvents(db, 'batch_events', events);
    await db.conn.run(`
COPY (
  SELECT *, strftime(epoch_ms(occurred_ms), '%Y-%m-%d') AS date, hour(epoch_ms(occurred_ms)) AS hour
  FROM batch_events
) TO ${sqlString(eventsDir(lake))} (FORMAT PARQUET, PARTITION_BY (date, hour), FILENAME_PATTERN 'events_{uuid}', OVERWRITE_OR_IGNORE)`);
    await db.conn.run('DROP TABLE batch_events');
    return { rows: events.length };
  } finally {
    if (!duck) db.close();
  }
}

export interface CompactionResult {
  events: number;
  skipped: number;
  from: string;
  next: string;
}

/**
 * Compacts what the log holds past the last checkpoint into the lake. The checkpoint (the log offset to resume
 * from) is written after the Parquet files, so a crash re-compacts a batch rather than losing one.
 */
export async function compactEventLog(
  source: EventSource,
  lake: string,
  options: { batch?: number; maxEvents?: number } = {},
): Promise<CompactionResult> {
  const batch = options.batch ?? 50_000;
  const saved = await readFile(checkpointFile(lake), 'utf8').then(
    (t) => (JSON.parse(t) as { next: string }).next,
    () => undefined,
  );
  const from = saved ?? 'earliest';
  let cursor: string | 'earliest' = from;
  let events = 0;
  let skipped = 0;
  const duck = await openDuck();
  try {
    for (;;) {
      const page = await source.read(cursor === 'earliest' ? 'earliest' : { offset: cursor }, batch);
      if (page.records.length === 0) break;
      const flat: FlatEvent[] = [];
      for (const r of page.records) {
        const f = flattenEvent(r.event);
        if (f) flat.push(f);
        else skipped++;
      }
      await writeEventsToLake(lake, flat, duck);
      events += flat.length;
      cursor = page.next;
      await mkdir(lake, { recursive: true });
      const tmp = `${checkpointFile(lake)}.tmp`;
      await writeFile(tmp, JSON.stringify({ next: cursor, at: new Date().toISOString() }));
      await rename(tmp, checkpointFile(lake));
      if (options.maxEvents !== undefined && events >= options.maxEvents) break;
    }
  } finally {
    duck.close();
  }
  return { events, skipped, from: String(from), next: String(cursor) };
}

/**
 * Forgets people in the lake after the log forgot them: every partition holding one of their orders or rider
 * positions is rewritten without those rows (new file first, then the old ones go; readers deduplicate by
 * event_id in between). Registered with `EventLog.onForget`; returns how many rows were dropped.
 */
export async function forgetInLake(
  lake: string,
  who: { orderIds: readonly string[]; riderIds: readonly string[] },
): Promise<number> {
  if (who.orderIds.length === 0 && who.riderIds.length === 0) return 0;
  const exists = await stat(eventsDir(lake)).then(
    () => true,
    () => false,
  );
  if (!exists) return 0;
  // NULL ids (rider pings have no order) must read as "not theirs", never as unknown.
  const among = (column: string, ids: readonly string[]): string =>
    ids.length ? `COALESCE(${column} IN (${ids.map(sqlString).join(', ')}), false)` : 'false';
  const match = `(${among('order_id', who.orderIds)} OR ${among('rider_id', who.riderIds)})`;
  const duck = await openDuck();
  let dropped = 0;
  try {
    const parts = await duck.all<{ date: string; hour: number; n: number }>(
      `SELECT CAST(date AS VARCHAR) AS date, hour, COUNT(*) AS n FROM ${lakeEventsRelation(lake)} WHERE ${match} GROUP BY 1, 2`,
    );
    for (const p of parts) {
      const dir = path.join(eventsDir(lake), `date=${p.date}`, `hour=${p.hour}`);
      const old = (await readdir(dir)).filter((f) => f.endsWith('.parquet'));
      const next = path.join(dir, `events_${randomUUID()}.parquet`);
      await duck.conn.run(
        `COPY (SELECT * FROM read_parquet(${sqlString(path.join(dir, '*.parquet'))}) WHERE NOT ${match}) TO ${sqlString(next)} (FORMAT PARQUET)`,
      );
      await Promise.all(old.map((f) => rm(path.join(dir, f))));
      dropped += Number(p.n);
    }
  } finally {
    duck.close();
  }
  return dropped;
}
