import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { Value } from 'typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createEventsModule,
  eventsConfigSchema,
  FileEventLog,
  RedisEventLog,
  type EtaEvent,
  type EventLog,
  type EventsConfig,
} from '../src/events/index.js';
import { createLogger, createMetrics, type ModuleContext, type Registry } from '../src/platform/index.js';
import { startRedis } from './support/redis.js';
import { minutesAgoIso } from './support/times.js';

/**
 * Log retention waits for the lake (events.trimWaitsForGroups, the consumer group `lake`): the time bound keeps what
 * the lake writer has not compacted, and forget journal entries it has not applied; the hard memory or disk bound
 * still trims, logged at error level and counted.
 */
const redis = await startRedis();
const HOUR = 3_600_000;

const dirs: string[] = [];
const logs: EventLog[] = [];
afterAll(async () => {
  for (const l of logs) await l.close();
  await redis?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const ping = (i: number): EtaEvent => ({
  event_id: `ping-${i}`,
  type: 'rider.location',
  occurred_at: minutesAgoIso(5),
  rider_id: `r-${i % 50}`,
  lat: 48.85 + (i % 10) / 1000,
  lng: 2.35,
});

async function appendMany(log: EventLog, n: number, perAppend = 500): Promise<string[]> {
  const offsets: string[] = [];
  for (let i = 0; i < n; i += perAppend) {
    const batch = Array.from({ length: Math.min(perAppend, n - i) }, (_, k) => ping(i + k));
    offsets.push(...((await log.append(batch)).offsets as string[]));
  }
  return offsets;
}

async function counterValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const values = (m?.values ?? []) as Array<{ value: number; labels: Record<string, string> }>;
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((a, v) => a + v.value, 0);
}

describe.skipIf(!redis)('Redis log retention and the lake group', () => {
  async function openLog(
    stream: string,
    options: { retentionMs?: number; maxDiskBytes?: number; waitFor?: string[] } = {},
  ): Promise<RedisEventLog> {
    const log = new RedisEventLog({
      url: redis!.url,
      stream,
      dedupeWindowMs: HOUR,
      dedupeMaxIds: 1_000_000,
      retentionMs: options.retentionMs ?? HOUR,
      maxDiskBytes: options.maxDiskBytes ?? 0,
      trimWaitsForGroups: options.waitFor ?? ['lake'],
    });
    await log.open();
    logs.push(log);
    return log;
  }

  it('does not trim past the lake group for the time bound, and trims once the lake has the entries', async () => {
    const log = await openLog('rt-wait');
    const ids = await appendMany(log, 1000);
    await log.commit('lake', ids[299]!);
    // Everything is past the retention period an hour from now.
    const later = Date.now() + 2 * HOUR;
    const held = await log.enforceRetention(later);
    expect(held.heldFor).toEqual(['lake']);
    expect(held.unread).toBeUndefined();
    // The first entry the lake has not compacted is still there, and everything after it.
    const rest = await log.read({ offset: ids[299]! }, 2000);
    expect(rest.records.map((r) => r.offset)).toEqual(ids.slice(300));

    await log.commit('lake', ids.at(-1)!);
    const done = await log.enforceRetention(later);
    expect(done.heldFor).toBeUndefined();
    expect(done.segmentsDeleted).toBeGreaterThan(0);
    expect(done.unread).toBeUndefined();
  });

  it('waits for nothing when no lake group exists (no lake writer deployed), and reports groups it passed', async () => {
    const log = await openLog('rt-nowriter');
    const ids = await appendMany(log, 1000);
    await log.commit('projection', ids[0]!);
    const r = await log.enforceRetention(Date.now() + 2 * HOUR);
    expect(r.heldFor).toBeUndefined();
    expect(r.segmentsDeleted).toBeGreaterThan(0);
    expect(r.unread).toMatchObject({ groups: ['projection'], reason: 'retention' });
  });

  it('keeps forget journal entries the lake has not applied past the retention period', async () => {
    const log = await openLog('rt-journal');
    await appendMany(log, 10);
    await log.forget({ riderId: 'r-1' });
    await log.forget({ riderId: 'r-2' });
    const { entries } = await log.forgets.read('earliest', 10);
    expect(entries).toHaveLength(2);
    await log.forgets.commit('lake', entries[0]!.id);
    const r = await log.enforceRetention(Date.now() + 2 * HOUR);
    expect(r.heldFor).toContain('lake');
    expect((await log.forgets.read('earliest', 10)).entries.map((e) => e.id)).toEqual([entries[1]!.id]);
    await log.forgets.commit('lake', entries[1]!.id);
    await log.enforceRetention(Date.now() + 2 * HOUR);
    expect((await log.forgets.read('earliest', 10)).entries).toEqual([]);
  });

  it('trims past the lake group when the memory bound forces it: logged at error level and counted', async () => {
    const stream = 'rt-memory';
    const log = await openLog(stream);
    const ids = await appendMany(log, 3000);
    await log.commit('lake', ids[10]!);
    const client = new Redis(redis!.url);
    const used = Number(await client.memory('USAGE', `{${stream}}`));
    const config: EventsConfig = {
      ...(Value.Default(eventsConfigSchema, {}) as EventsConfig),
      backend: 'redis',
      redisUrl: redis!.url,
      redisStream: stream,
      // A third of what the stream holds: the bound must trim entries the lake has not compacted.
      maxDiskBytes: Math.floor(used / 3),
    };
    const lines: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    const dataDir = await mkdtemp(path.join(tmpdir(), 'rt-memory-'));
    dirs.push(dataDir);
    const metrics = createMetrics();
    const ctx = { logger, metrics, platform: { dataDir } } as unknown as ModuleContext;
    const events = createEventsModule(ctx, config, { role: 'writer' });
    await events.service.start!(new AbortController().signal); // runs retention once at start
    await events.service.stop!();
    client.disconnect();

    expect(await log.read('earliest', 1).then((r) => r.records[0]?.offset)).not.toBe(ids[0]);
    const dropped = await counterValue(metrics.registry, 'etaserve_events_retention_unread_dropped_total', {
      reason: 'maxDiskBytes',
    });
    expect(dropped).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 50)); // the logger's stream is asynchronous
    const error = lines
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .find((l) => l.level === 'error');
    expect(error?.msg).toMatch(/deleted data lake had not read: the log's bound forced it/);
  });
});

describe('file log retention and the lake group', () => {
  it('keeps segments the lake has not read past for the time bound, and deletes them at the disk bound, counted', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'rt-file-'));
    dirs.push(dir);
    const options = {
      dir,
      mode: 'writer' as const,
      segmentBytes: 8192,
      retentionMs: HOUR,
      maxDiskBytes: 0,
      dedupeWindowMs: HOUR,
      dedupeMaxIds: 10_000,
      trimWaitsForGroups: ['lake'],
    };
    const log = new FileEventLog(options);
    await log.open();
    logs.push(log);
    // Small appends: a segment rotates between group commits, so these fill several.
    const offsets = await appendMany(log, 600, 20);
    const before = await log.stats();
    expect(before.segments).toBeGreaterThan(3);
    await log.commit('lake', offsets[100]!);
    const held = await log.enforceRetention(Date.now() + 2 * HOUR);
    expect(held.heldFor).toEqual(['lake']);
    expect(held.unread).toBeUndefined();
    // Everything from the lake's position on is still readable.
    const rest = await log.read(offsets[100]!, 1000);
    expect(rest.records.map((r) => r.offset)).toEqual(offsets.slice(100));
    await log.close();

    // The disk bound is the last resort: it deletes what the lake has not read, and says so.
    const bounded = new FileEventLog({ ...options, maxDiskBytes: 8192 });
    await bounded.open();
    logs.push(bounded);
    const forced = await bounded.enforceRetention(Date.now());
    expect(forced.unread).toMatchObject({ groups: ['lake'], reason: 'maxDiskBytes' });
    expect((await bounded.stats()).segments).toBeLessThan(before.segments);
  });
});
