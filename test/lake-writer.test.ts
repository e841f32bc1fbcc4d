import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FileEventLog,
  MemoryEventLog,
  RedisEventLog,
  type EtaEvent,
  type EventLog,
} from '../src/events/index.js';
import {
  flattenEvent,
  LakeWriter,
  lakeEventsRelation,
  openDuck,
  readLakeCheckpoint,
  writeEventsToLake,
  type FlatEvent,
} from '../src/pipeline/index.js';
import { loadAppConfig } from '../src/app/config.js';
import { ConfigError, createLogger, Registry } from '../src/platform/index.js';
import { startRedis } from './support/redis.js';
import { minutesAgoIso } from './support/times.js';

/**
 * The pipeline's continuous lake writer against real logs: it compacts what is new into Parquet, shows its position
 * as the consumer group `lake`, is the only writer (a lease in the log), applies the forget journal in the same
 * loop, and deletes date partitions past the lake's retention.
 */
const redis = await startRedis();
const silent = createLogger({ level: 'silent' });
const DAY = 86_400_000;

const dirs: string[] = [];
const logs: EventLog[] = [];
const writers: LakeWriter[] = [];
afterAll(async () => {
  for (const w of writers) await w.stop();
  for (const l of logs) await l.close();
  await redis?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** An order's acceptance a few minutes ago (inside the log's retention) with its rider. */
const accepted = (i: number, rider = `r-${i % 3}`): EtaEvent => ({
  event_id: `acc-${i}`,
  type: 'order.accepted',
  occurred_at: minutesAgoIso(30 - (i % 20)),
  order_id: `o-${i}`,
  store_id: 's-0001',
  rider_id: rider,
});

/** Read while the lake writer may be writing: files appear whole (renamed in), so a read never fails midway. */
async function lakeRows(lake: string, where = 'true'): Promise<{ rows: number; ids: number }> {
  if (!existsSync(path.join(lake, 'events'))) return { rows: 0, ids: 0 };
  const duck = await openDuck();
  try {
    const [row] = await duck.all<{ rows: number; ids: number }>(
      `SELECT COUNT(*) AS rows, COUNT(DISTINCT event_id) AS ids FROM ${lakeEventsRelation(lake)} WHERE ${where}`,
    );
    return { rows: Number(row?.rows ?? 0), ids: Number(row?.ids ?? 0) };
  } catch (e) {
    // The first file's partition directory is made just before the file is renamed into it.
    if (/No files found/.test(String(e))) return { rows: 0, ids: 0 };
    throw e;
  } finally {
    duck.close();
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function writerOn(log: EventLog, lake: string, registry = new Registry(), intervalMs = 50): LakeWriter {
  const writer = new LakeWriter({
    lake,
    log,
    intervalMs,
    batch: 1000,
    retentionDays: 90,
    logger: silent,
    registry,
  });
  writers.push(writer);
  return writer;
}

async function metric(registry: Registry, name: string): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values as Array<{ value: number }> | undefined)?.[0]?.value;
}

describe.skipIf(!redis)('the lake writer over Redis Streams', () => {
  async function openLog(stream: string): Promise<RedisEventLog> {
    const log = new RedisEventLog({
      url: redis!.url,
      stream,
      dedupeWindowMs: 3_600_000,
      dedupeMaxIds: 100_000,
      retentionMs: 0,
      maxDiskBytes: 0,
    });
    await log.open();
    logs.push(log);
    return log;
  }

  it('compacts continuously, and the consumer group lake shows how far the lake got', async () => {
    const log = await openLog('lw-continuous');
    const lake = path.join(await tempDir('lake-writer-'), 'lake');
    const registry = new Registry();
    const writer = writerOn(log, lake, registry);
    writer.start();
    await log.append(Array.from({ length: 20 }, (_, i) => accepted(i)));
    await waitFor(async () => (await lakeRows(lake)).rows === 20, '20 rows in the lake');
    // Visible to every process: the group's last delivered id is the newest entry compacted.
    const newest = (await log.stats()).next;
    await waitFor(async () => (await log.committed('lake')) === newest, 'the lake group at the newest entry');

    await log.append(Array.from({ length: 10 }, (_, i) => accepted(100 + i)));
    await waitFor(async () => (await lakeRows(lake)).rows === 30, '30 rows in the lake');
    const next = (await log.stats()).next;
    await waitFor(async () => (await log.committed('lake')) === next, 'the lake group moved on');
    expect(await lakeRows(lake)).toEqual({ rows: 30, ids: 30 });
    // Caught up: nothing behind, no lag.
    expect(await metric(registry, 'etaserve_lake_behind_entries')).toBe(0);
    expect(await metric(registry, 'etaserve_lake_lag_seconds')).toBe(0);
    expect(await metric(registry, 'etaserve_lake_compacted_events_total')).toBe(30);
    expect(await metric(registry, 'etaserve_lake_writer_active')).toBe(1);
    expect(writer.status()).toMatchObject({ role: 'writer', position: next });
    await writer.stop();

    // Stopped: entries pile up behind the lake, and the lag is their age.
    await log.append([accepted(200)]);
    const lagging = new LakeWriter({
      lake,
      log,
      intervalMs: 60_000,
      batch: 1000,
      retentionDays: 90,
      logger: silent,
      registry: new Registry(),
      now: () => Date.now() + 60_000,
    });
    const lag = await lagging.lag();
    expect(lag.entries).toBe(1);
    expect(lag.seconds).toBeGreaterThanOrEqual(59);
  });

  it('has one writer: a second process stands by and takes over from the checkpoint when the first stops', async () => {
    const first = await openLog('lw-lease');
    const second = await openLog('lw-lease');
    const lake = path.join(await tempDir('lake-lease-'), 'lake');
    const a = writerOn(first, lake);
    const b = writerOn(second, lake);
    await first.append(Array.from({ length: 5 }, (_, i) => accepted(i)));
    await a.tick();
    await b.tick();
    expect(a.status().role).toBe('writer');
    expect(b.status().role).toBe('standby');
    expect(await lakeRows(lake)).toEqual({ rows: 5, ids: 5 });

    await a.stop(); // releases the lease
    await first.append(Array.from({ length: 3 }, (_, i) => accepted(10 + i)));
    await b.tick();
    expect(b.status().role).toBe('writer');
    // Went on where the lake was: nothing compacted twice.
    expect(await lakeRows(lake)).toEqual({ rows: 8, ids: 8 });
    expect(await second.committed('lake')).toBe((await second.stats()).next);
  });

  it('forgets an event it compacted just before the log deleted it: the journal is read after each batch', async () => {
    const log = await openLog('lw-forget');
    const lake = path.join(await tempDir('lake-forget-'), 'lake');
    const writer = writerOn(log, lake);
    await log.append([accepted(1, 'r-victim'), accepted(2, 'r-other'), accepted(3, 'r-victim')]);
    await writer.tick();
    expect((await lakeRows(lake, "rider_id = 'r-victim'")).rows).toBe(2);

    const result = await log.forget({ riderId: 'r-victim' });
    expect(result.redacted).toBe(2);
    // The journal holds whom it covered, in the log's hash slot.
    const { entries } = await log.forgets.read('earliest', 10);
    expect(entries).toMatchObject([{ riderIds: ['r-victim'], orderIds: [], customerIds: [] }]);
    expect(log.forgets.key).toBe('{lw-forget}:forgotten');

    await writer.tick();
    expect((await lakeRows(lake, "rider_id = 'r-victim'")).rows).toBe(0);
    expect((await lakeRows(lake)).rows).toBe(1);
    // The lake's journal position is the group lake of the journal stream.
    expect(await log.forgets.committed('lake')).toBe(entries[0]!.id);
    expect((await readLakeCheckpoint(lake))?.forgotten).toBe(entries[0]!.id);
  });
});

describe('the lake writer over the file log', () => {
  it('keeps its checkpoint in the lake and its position in consumers/lake.json, and applies a forget from another process', async () => {
    const dir = await tempDir('lake-file-');
    const options = {
      dir: path.join(dir, 'events'),
      segmentBytes: 1 << 20,
      retentionMs: 0,
      maxDiskBytes: 0,
      dedupeWindowMs: 3_600_000,
      dedupeMaxIds: 10_000,
    };
    // The gateway writes; the pipeline and the CLI read the same directory (one node's shared disk).
    const gateway = new FileEventLog({ ...options, mode: 'writer' });
    const pipeline = new FileEventLog({ ...options, mode: 'reader' });
    const cli = new FileEventLog({ ...options, mode: 'reader' });
    for (const l of [gateway, pipeline, cli]) {
      await l.open();
      logs.push(l);
    }
    const lake = path.join(dir, 'lake');
    const writer = writerOn(pipeline, lake);
    await gateway.append(Array.from({ length: 12 }, (_, i) => accepted(i)));
    await writer.tick();
    expect(await lakeRows(lake)).toEqual({ rows: 12, ids: 12 });
    const end = (await gateway.stats()).next;
    expect((await readLakeCheckpoint(lake))?.next).toBe(end);
    const published = JSON.parse(await readFile(path.join(dir, 'events', 'consumers', 'lake.json'), 'utf8'));
    expect(published.offset).toBe(end);

    const result = await cli.forget({ orderIds: ['o-3', 'o-4'] });
    expect(result.redacted).toBe(2);
    await writer.tick();
    expect((await lakeRows(lake, "order_id IN ('o-3', 'o-4')")).rows).toBe(0);
    expect((await lakeRows(lake)).rows).toBe(10);
    // Two journal lines: one before the records were rewritten, one after.
    expect((await readLakeCheckpoint(lake))?.forgotten).toBe('2');
  });
});

describe('lake retention', () => {
  it('must keep what a training run reads: pipeline.lakeRetentionDays below windowDays + 8 is refused at start', () => {
    const load = (env: Record<string, string>): unknown => loadAppConfig({ env });
    expect(() => load({ ETASERVE_PIPELINE_LAKE_RETENTION_DAYS: '21' })).toThrow(ConfigError);
    expect(() => load({ ETASERVE_PIPELINE_LAKE_RETENTION_DAYS: '21' })).toThrow(
      'config: pipeline.lakeRetentionDays = 21 is invalid: expected at least pipeline.windowDays (14) + 8 = 22',
    );
    expect(load({ ETASERVE_PIPELINE_LAKE_RETENTION_DAYS: '22' })).toMatchObject({
      pipeline: { lakeRetentionDays: 22, lakeWriteIntervalMs: 5000 },
      events: { trimWaitsForGroups: ['lake'] },
    });
  });

  it('deletes whole date partitions older than pipeline.lakeRetentionDays, and counts them', async () => {
    const lake = path.join(await tempDir('lake-retention-'), 'lake');
    const now = Date.now();
    const at = (daysAgo: number, i: number): FlatEvent =>
      flattenEvent({
        ...accepted(i),
        event_id: `old-${daysAgo}-${i}`,
        occurred_at: new Date(now - daysAgo * DAY).toISOString(),
      })!;
    await writeEventsToLake(lake, [at(120, 1), at(95, 2), at(89, 3), at(10, 4), at(0, 5)]);
    const log = new MemoryEventLog({ dedupeWindowMs: 60_000, dedupeMaxIds: 1000 });
    const registry = new Registry();
    const writer = writerOn(log, lake, registry);
    await writer.tick();
    const kept = await lakeRows(lake);
    expect(kept.rows).toBe(3);
    expect(await metric(registry, 'etaserve_lake_partitions_deleted_total')).toBe(2);
    const day = (daysAgo: number): string => new Date(now - daysAgo * DAY).toISOString().slice(0, 10);
    expect(existsSync(path.join(lake, 'events', `date=${day(120)}`))).toBe(false);
    expect(existsSync(path.join(lake, 'events', `date=${day(95)}`))).toBe(false);
    expect(existsSync(path.join(lake, 'events', `date=${day(89)}`))).toBe(true);
  });

  it('merges the small files of a settled hour into one, leaving the current hour alone', async () => {
    const lake = path.join(await tempDir('lake-merge-'), 'lake');
    const now = Date.now();
    const event = (hoursAgo: number, i: number): FlatEvent =>
      flattenEvent({
        ...accepted(i),
        event_id: `m-${hoursAgo}-${i}`,
        occurred_at: new Date(now - hoursAgo * 3_600_000).toISOString(),
      })!;
    // One file per write, as the lake writer leaves them: ten rounds for an hour five hours ago, two for now.
    for (let i = 0; i < 10; i++) await writeEventsToLake(lake, [event(5, i)]);
    for (let i = 0; i < 2; i++) await writeEventsToLake(lake, [event(0, i)]);
    const partition = (hoursAgo: number): string => {
      const at = new Date(now - hoursAgo * 3_600_000).toISOString();
      return path.join(lake, 'events', `date=${at.slice(0, 10)}`, `hour=${Number(at.slice(11, 13))}`);
    };
    const files = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.parquet'));
    expect(files(partition(5))).toHaveLength(10);
    const writer = writerOn(new MemoryEventLog({ dedupeWindowMs: 60_000, dedupeMaxIds: 1000 }), lake);
    await writer.tick();
    expect(files(partition(5))).toHaveLength(1);
    expect(files(partition(0))).toHaveLength(2);
    expect(await lakeRows(lake)).toEqual({ rows: 12, ids: 12 });
    // Every file keeps the lake's columns and nothing else (no `date`/`hour` from the path).
    const duck = await openDuck();
    try {
      const names = await duck.all<{ name: string }>(
        `SELECT DISTINCT name FROM parquet_schema(${JSON.stringify(path.join(lake, 'events', '**', '*.parquet')).replace(/"/g, "'")})`,
      );
      expect(names.map((n) => n.name)).not.toContain('date');
    } finally {
      duck.close();
    }
  });
});
