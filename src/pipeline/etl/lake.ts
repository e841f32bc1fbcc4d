import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ForgetJournal } from '../../events/index.js';
import { EVENT_COLUMNS, loadEvents, openDuck, sqlString, type Duck } from './duckdb.js';
import { flattenEvent, type FlatEvent, type LogEvent } from './history-events.js';

/**
 * What compaction needs of the event log: `EventLog` (src/events) has this shape. Only `read` is required; with the
 * rest, compaction also applies the log's forget journal, publishes the lake's position as the consumer group
 * `lake` (retention waits for it) and holds the `lake-writer` lease, so one process writes the lake at a time.
 */
export interface EventSource {
  read(
    from: string | 'earliest' | { offset: string },
    max: number,
  ): Promise<{ records: ReadonlyArray<{ offset: string; event: LogEvent }>; next: string }>;
  readonly kind?: string;
  readonly forgets?: Pick<ForgetJournal, 'read' | 'commit'>;
  commit?(group: string, next: string): Promise<void>;
  claimLease?(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease?(name: string, holder: string): Promise<void>;
}

/** The consumer group (of the log and of its forget journal) that says how far the lake got. */
export const LAKE_GROUP = 'lake';
/** The lease that makes one process of a deployment the lake's writer. */
export const LAKE_WRITER_LEASE = 'lake-writer';

export const lakeDirOf = (dataDir: string): string => path.join(dataDir, 'lake');
const eventsDir = (lake: string): string => path.join(lake, 'events');
/** Where files are written before they are renamed into `events/`: readers never see one half written. */
const stagingDir = (lake: string): string => path.join(lake, '_staging');

/** A fresh path under the lake's staging directory (same filesystem as `events/`, so a rename is atomic). */
async function stagedPath(lake: string, name: string): Promise<string> {
  await mkdir(stagingDir(lake), { recursive: true });
  return path.join(stagingDir(lake), `${randomUUID()}-${name}`);
}
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
 * write and the checkpoint) changes nothing downstream. Files are written under `_staging/` and renamed into their
 * partition, so a training run reading the lake while the lake writer writes never meets half a file.
 */
export async function writeEventsToLake(
  lake: string,
  events: readonly FlatEvent[],
  duck?: Duck,
): Promise<{ rows: number }> {
  if (events.length === 0) return { rows: 0 };
  const db = duck ?? (await openDuck());
  const stage = await stagedPath(lake, 'batch');
  try {
    await loadEvents(db, 'batch_events', events);
    await db.conn.run(`
COPY (
  SELECT *, strftime(epoch_ms(occurred_ms), '%Y-%m-%d') AS date, hour(epoch_ms(occurred_ms)) AS hour
  FROM batch_events
) TO ${sqlString(stage)} (FORMAT PARQUET, PARTITION_BY (date, hour), FILENAME_PATTERN 'events_{uuid}', OVERWRITE_OR_IGNORE)`);
    await db.conn.run('DROP TABLE batch_events');
    for (const date of await readdir(stage)) {
      for (const hour of await readdir(path.join(stage, date))) {
        const target = path.join(eventsDir(lake), date, hour);
        await mkdir(target, { recursive: true });
        for (const file of await readdir(path.join(stage, date, hour)))
          await rename(path.join(stage, date, hour, file), path.join(target, file));
      }
    }
    return { rows: events.length };
  } finally {
    await rm(stage, { recursive: true, force: true });
    if (!duck) db.close();
  }
}

export interface CompactionResult {
  events: number;
  skipped: number;
  from: string;
  next: string;
  /** Forget journal entries applied to the lake, and the rows they removed. */
  forgets: number;
  forgottenRows: number;
  /** Ingest time (ms) of the last event compacted, when this call compacted any. */
  lastIngestedAtMs?: number;
  /** Nothing was done: another process holds the `lake-writer` lease and keeps the lake. */
  writerElsewhere?: boolean;
}

/** The lake's own record of what it holds: the log offset to compact from, and the forget journal applied. */
export interface LakeCheckpoint {
  next: string;
  forgotten?: string;
  /** The kind of log the offsets belong to (`redis`, `file`, `memory`): another kind's offsets mean nothing. */
  log?: string;
  at?: string;
}

export async function readLakeCheckpoint(lake: string): Promise<LakeCheckpoint | undefined> {
  try {
    const parsed = JSON.parse(await readFile(checkpointFile(lake), 'utf8')) as Partial<LakeCheckpoint>;
    return typeof parsed.next === 'string' ? (parsed as LakeCheckpoint) : undefined;
  } catch {
    return undefined;
  }
}

async function writeLakeCheckpoint(lake: string, checkpoint: LakeCheckpoint): Promise<void> {
  await mkdir(lake, { recursive: true });
  const tmp = `${checkpointFile(lake)}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ ...checkpoint, at: new Date().toISOString() }));
  await rename(tmp, checkpointFile(lake));
}

export interface CompactionOptions {
  batch?: number;
  maxEvents?: number;
  /**
   * Who holds the `lake-writer` lease meanwhile, renewed after every batch: the pipeline's lake writer passes its
   * own and keeps it; a one-off caller (a scheduled run, `etaserve train`) gets a fresh one, released at the end.
   */
  lease?: { holder: string; ttlMs: number; keep?: boolean };
}

/**
 * Compacts what the log holds past the lake's checkpoint into the lake, then applies the forget journal after each
 * batch: an event compacted just before the log forgot it is in the lake by the time its journal entry is read, so
 * it is removed too. The checkpoint (in the lake: what the lake holds) is written after the Parquet files and after
 * each forget, so a crash re-compacts a batch (the ETL deduplicates) rather than losing one; then the position is
 * published to the log as the consumer group `lake`, which log retention waits for.
 */
export async function compactEventLog(
  source: EventSource,
  lake: string,
  options: CompactionOptions = {},
): Promise<CompactionResult> {
  const batch = options.batch ?? 50_000;
  const lease = options.lease ?? {
    holder: `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    ttlMs: 60_000,
  };
  const holds = async (): Promise<boolean> =>
    source.claimLease ? source.claimLease(LAKE_WRITER_LEASE, lease.holder, lease.ttlMs) : true;
  const saved = await readLakeCheckpoint(lake);
  // A checkpoint of another kind of log (the backend changed): its offsets would skip or repeat arbitrarily.
  const usable = saved && (saved.log === undefined || source.kind === undefined || saved.log === source.kind);
  const from = usable ? saved.next : (await source.read('earliest', 0)).next;
  if (!(await holds()))
    return { events: 0, skipped: 0, from, next: from, forgets: 0, forgottenRows: 0, writerElsewhere: true };
  const checkpoint: LakeCheckpoint = {
    next: from,
    forgotten: (usable ? saved.forgotten : undefined) ?? 'earliest',
    ...(source.kind ? { log: source.kind } : {}),
  };
  const result: CompactionResult = { events: 0, skipped: 0, from, next: from, forgets: 0, forgottenRows: 0 };
  // Opened on the first batch: a round with nothing new (most of the lake writer's) costs no DuckDB.
  let duck: Duck | undefined;
  try {
    if (source.forgets && checkpoint.forgotten === 'earliest')
      checkpoint.forgotten = (await source.forgets.read('earliest', 0)).next;
    // A new lake publishes where it starts, so retention waits for it before its first batch is in.
    if (!usable || saved.log === undefined) {
      await writeLakeCheckpoint(lake, checkpoint);
      await source.commit?.(LAKE_GROUP, checkpoint.next);
      if (source.forgets && checkpoint.forgotten !== undefined)
        await source.forgets.commit(LAKE_GROUP, checkpoint.forgotten);
    }
    for (;;) {
      await applyForgetJournal(source, lake, checkpoint, result);
      if (options.maxEvents !== undefined && result.events >= options.maxEvents) break;
      const page = await source.read({ offset: checkpoint.next }, batch);
      if (page.records.length === 0) break;
      const flat: FlatEvent[] = [];
      for (const r of page.records) {
        const f = flattenEvent(r.event);
        if (f) flat.push(f);
        else result.skipped++;
      }
      duck ??= await openDuck();
      await writeEventsToLake(lake, flat, duck);
      result.events += flat.length;
      const last = page.records.at(-1) as { ingestedAtMs?: number } | undefined;
      if (last?.ingestedAtMs !== undefined) result.lastIngestedAtMs = last.ingestedAtMs;
      checkpoint.next = page.next;
      result.next = page.next;
      await writeLakeCheckpoint(lake, checkpoint);
      await source.commit?.(LAKE_GROUP, checkpoint.next);
      if (!(await holds())) break; // the lease went to another writer (this one stalled): it goes on from here
    }
  } finally {
    duck?.close();
    if (!lease.keep) await source.releaseLease?.(LAKE_WRITER_LEASE, lease.holder).catch(() => undefined);
  }
  return result;
}

/** Applies the journal entries past the checkpoint to the lake: their orders' and riders' rows go. */
async function applyForgetJournal(
  source: EventSource,
  lake: string,
  checkpoint: LakeCheckpoint,
  result: CompactionResult,
): Promise<void> {
  if (!source.forgets) return;
  for (;;) {
    const page = await source.forgets.read(checkpoint.forgotten ?? 'earliest', 500);
    if (page.entries.length === 0) return;
    const who = {
      orderIds: [...new Set(page.entries.flatMap((e) => e.orderIds))],
      riderIds: [...new Set(page.entries.flatMap((e) => e.riderIds))],
    };
    result.forgottenRows += await forgetInLake(lake, who);
    result.forgets += page.entries.length;
    checkpoint.forgotten = page.next;
    await writeLakeCheckpoint(lake, checkpoint);
    await source.forgets.commit(LAKE_GROUP, page.next);
  }
}

/**
 * Lake upkeep: the lake writer adds a file to an hour partition every round that had events for it, so a settled
 * hour (ended `settleMs` ago) holding `minFiles` or more is rewritten as one file, and reads over months do not
 * open thousands of small files. New file first, then the old ones go (a reader in between sees rows twice, which
 * the ETL deduplicates by event_id, as for `forgetInLake`). Returns the partitions merged.
 */
export async function mergeSmallFiles(
  lake: string,
  nowMs: number,
  options: { minFiles?: number; settleMs?: number } = {},
): Promise<string[]> {
  const minFiles = options.minFiles ?? 8;
  const settleMs = options.settleMs ?? 2 * 3_600_000;
  const merged: string[] = [];
  let duck: Duck | undefined;
  try {
    for (const dateDir of (await readdir(eventsDir(lake)).catch(() => [] as string[])).sort()) {
      const date = /^date=(\d{4}-\d{2}-\d{2})$/.exec(dateDir)?.[1];
      if (!date) continue;
      for (const hourDir of await readdir(path.join(eventsDir(lake), dateDir)).catch(() => [] as string[])) {
        const hour = /^hour=(\d{1,2})$/.exec(hourDir)?.[1];
        if (hour === undefined) continue;
        const hourEnd = Date.parse(`${date}T${hour.padStart(2, '0')}:00:00Z`) + 3_600_000;
        if (!(hourEnd <= nowMs - settleMs)) continue;
        const dir = path.join(eventsDir(lake), dateDir, hourDir);
        const old = (await readdir(dir)).filter((f) => f.endsWith('.parquet'));
        if (old.length < minFiles) continue;
        duck ??= await openDuck({ memoryLimit: '256MB', lean: true });
        await rewritePartition(duck, lake, dir, old, 'true');
        merged.push(`${date}/${hour}`);
      }
    }
  } finally {
    duck?.close();
  }
  return merged;
}

/**
 * Replaces the files `old` of a partition directory by one file of their rows that pass `where`: written under
 * `_staging/` and renamed in, then the old files go. Only the lake's columns: DuckDB would otherwise add `date` and
 * `hour` from the path to the new file, and the lake's files would no longer agree (lakeEventsRelationFor).
 */
async function rewritePartition(
  duck: Duck,
  lake: string,
  dir: string,
  old: readonly string[],
  where: string,
): Promise<void> {
  const files = `[${old.map((f) => sqlString(path.join(dir, f))).join(', ')}]`;
  const staged = await stagedPath(lake, 'events.parquet');
  try {
    await duck.conn.run(
      `COPY (SELECT ${Object.keys(EVENT_COLUMNS).join(', ')} FROM read_parquet(${files}, hive_partitioning = false, union_by_name = true) WHERE ${where}) TO ${sqlString(staged)} (FORMAT PARQUET)`,
    );
    await rename(staged, path.join(dir, `events_${randomUUID()}.parquet`));
  } finally {
    await rm(staged, { force: true });
  }
  await Promise.all(old.map((f) => rm(path.join(dir, f))));
}

/** What a crash left under `_staging/` (never part of the lake: its batch is compacted again): older than 1 h goes. */
export async function dropStaleStaging(lake: string, nowMs: number): Promise<number> {
  let dropped = 0;
  for (const name of await readdir(stagingDir(lake)).catch(() => [] as string[])) {
    const at = path.join(stagingDir(lake), name);
    const mtimeMs = await stat(at).then(
      (s) => s.mtimeMs,
      () => nowMs,
    );
    if (nowMs - mtimeMs < 3_600_000) continue;
    await rm(at, { recursive: true, force: true });
    dropped++;
  }
  return dropped;
}

/**
 * Lake retention: deletes whole date partitions (`events/date=YYYY-MM-DD`) older than `keepDays` before `nowMs`
 * (UTC dates, as compaction partitions). Returns the dates deleted.
 */
export async function dropOldPartitions(lake: string, keepDays: number, nowMs: number): Promise<string[]> {
  const oldestKept = new Date(nowMs - keepDays * 86_400_000).toISOString().slice(0, 10);
  const names = await readdir(eventsDir(lake)).catch(() => [] as string[]);
  const dropped: string[] = [];
  for (const name of names.sort()) {
    const m = /^date=(\d{4}-\d{2}-\d{2})$/.exec(name);
    if (!m || m[1]! >= oldestKept) continue;
    await rm(path.join(eventsDir(lake), name), { recursive: true, force: true });
    dropped.push(m[1]!);
  }
  return dropped;
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
      await rewritePartition(duck, lake, dir, old, `NOT ${match}`);
      dropped += Number(p.n);
    }
  } finally {
    duck.close();
  }
  return dropped;
}
