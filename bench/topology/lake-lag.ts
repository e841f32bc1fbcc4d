/**
 * How far the pipeline's lake is behind the event log, sampled from outside: the pipeline's own gauge
 * (`etaserve_lake_lag_seconds`, `etaserve_lake_behind_entries` on its /metrics) when it has one, and always the
 * `lake` consumer group's position against the stream's last id in the events Redis (XINFO), which a lake writer
 * publishes after every batch. The lake itself is counted with DuckDB (distinct event ids in its Parquet files).
 */
import { Redis } from 'ioredis';
import { openDuck, sqlString } from '../../src/pipeline/etl/duckdb.js';

export const STREAM = '{etaserve:events}';
export const LAKE_GROUP = 'lake';

export interface LagSample {
  /** Seconds since the sampler started. */
  atSec: number;
  /** What the benchmark was doing (an ingest step's rate, `catch-up`). */
  phase: string;
  /** The pipeline's gauge, seconds; null when it exports none. */
  metricLagSec: number | null;
  metricBehind: number | null;
  /**
   * The gauge's definition from Redis alone: age of the first entry past the `lake` group's last-delivered id (by
   * its id's time), 0 when the group has everything; null: no group.
   */
  positionLagMs: number | null;
  /** Redis's own count of entries the group has not read (XINFO GROUPS `lag`), when it knows it. */
  groupLag: number | null;
  streamLength: number;
}

const idMs = (id: string): number => Number(id.split('-')[0]);

/** `name` (no labels, or the first labelled series) in a Prometheus text exposition; undefined when absent. */
export function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** XINFO's flat [key, value, ...] reply as an object. */
function pairs(reply: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
  return out;
}

export interface LogPosition {
  streamLength: number;
  lastId: string;
  /** The lake group's last-delivered id, or undefined when the group does not exist. */
  lakeId?: string;
  groupLag?: number;
  /** Id time (epoch ms) of the first entry the group has not delivered, when there is one. */
  firstBehindMs?: number;
}

export async function logPosition(redis: Redis): Promise<LogPosition> {
  const stream = pairs((await redis.xinfo('STREAM', STREAM)) as unknown[]);
  const groups = ((await redis.xinfo('GROUPS', STREAM)) as unknown[][]).map(pairs);
  const lake = groups.find((g) => g.name === LAKE_GROUP);
  const lag = lake?.lag;
  let firstBehindMs: number | undefined;
  if (lake) {
    const next = (await redis.xrange(
      STREAM,
      `(${String(lake['last-delivered-id'])}`,
      '+',
      'COUNT',
      1,
    )) as Array<[string, string[]]>;
    if (next[0]) firstBehindMs = idMs(next[0][0]);
  }
  return {
    ...(firstBehindMs !== undefined ? { firstBehindMs } : {}),
    streamLength: Number(stream.length),
    lastId: String(stream['last-generated-id']),
    ...(lake ? { lakeId: String(lake['last-delivered-id']) } : {}),
    ...(typeof lag === 'number' ? { groupLag: lag } : {}),
  };
}

/** Samples every `everyMs` until stopped; one sample at a time (a slow scrape delays the next, never overlaps). */
export class LagSampler {
  readonly samples: LagSample[] = [];
  phase = 'idle';
  private readonly redis: Redis;
  private readonly started = performance.now();
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    redisUrl: string,
    private readonly metricsUrl: string,
    private readonly everyMs = 500,
  ) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  }

  /** Seconds on this sampler's clock. */
  now(): number {
    return (performance.now() - this.started) / 1000;
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const due = performance.now() + this.everyMs;
        const s = await this.sample().catch(() => undefined);
        if (s) this.samples.push(s);
        await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      }
    })();
  }

  async sample(): Promise<LagSample> {
    const atSec = this.now();
    const [text, position] = await Promise.all([
      fetch(this.metricsUrl, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.text(),
        () => '',
      ),
      logPosition(this.redis),
    ]);
    return {
      atSec: Math.round(atSec * 100) / 100,
      phase: this.phase,
      metricLagSec: metricValue(text, 'etaserve_lake_lag_seconds') ?? null,
      metricBehind: metricValue(text, 'etaserve_lake_behind_entries') ?? null,
      positionLagMs:
        position.lakeId === undefined
          ? null
          : position.firstBehindMs === undefined
            ? 0
            : Math.max(0, Date.now() - position.firstBehindMs),
      groupLag: position.groupLag ?? null,
      streamLength: position.streamLength,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.redis.disconnect();
  }
}

/** Distinct event ids in the lake's Parquet files; 0 before the first file, undefined when a read failed. */
export async function lakeEventCount(lakeDir: string): Promise<number | undefined> {
  const duck = await openDuck({ memoryLimit: '512MB' });
  try {
    const glob = sqlString(`${lakeDir}/events/**/*.parquet`);
    const [files] = await duck.all<{ n: number | bigint }>(`SELECT COUNT(*) AS n FROM glob(${glob})`);
    if (Number(files?.n ?? 0) === 0) return 0;
    const [row] = await duck.all<{ n: number | bigint }>(
      `SELECT COUNT(DISTINCT event_id) AS n FROM read_parquet(${glob}, union_by_name = true)`,
    );
    return Number(row?.n ?? 0);
  } catch {
    // A file the writer is still writing, or one a merge just removed: the next poll reads again.
    return undefined;
  } finally {
    duck.close();
  }
}
