import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { EventLog, LogOffset } from '../../events/index.js';
import { Counter, Gauge, type Logger, type Registry } from '../../platform/index.js';
import {
  compactEventLog,
  dropOldPartitions,
  dropStaleStaging,
  LAKE_GROUP,
  LAKE_WRITER_LEASE,
  mergeSmallFiles,
} from './lake.js';

export interface LakeWriterOptions {
  lake: string;
  log: EventLog;
  /** How often a tick compacts what is new and applies the forget journal (pipeline.lakeWriteIntervalMs). */
  intervalMs: number;
  /** Events per Parquet write (pipeline.compactBatch). */
  batch: number;
  /** Whole date partitions older than this go (pipeline.lakeRetentionDays). */
  retentionDays: number;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}

export interface LakeWriterStatus {
  /** writer: this process holds the lease and writes; standby: another process does. */
  role: 'starting' | 'writer' | 'standby' | 'stopped';
  holder: string;
  /** The log offset the lake has everything before (this process's, while it writes). */
  position?: LogOffset;
  lastSuccessAtMs?: number;
  lastError?: string;
}

/** Entries behind are counted by reading, up to this many, where the log cannot say (Redis after SETID). */
const BEHIND_CAP = 1000;
/** Lake upkeep (retention, merging small files) runs on the first round, then this often. */
const RETENTION_EVERY_MS = 10 * 60_000;

const METRICS = [
  'etaserve_lake_lag_seconds',
  'etaserve_lake_behind_entries',
  'etaserve_lake_writer_active',
  'etaserve_lake_compacted_events_total',
  'etaserve_lake_forgets_applied_total',
  'etaserve_lake_forgotten_rows_total',
  'etaserve_lake_partitions_deleted_total',
  'etaserve_lake_writer_failures_total',
];

/**
 * The pipeline's continuous lake writer: every `intervalMs` it compacts what is new in the event log into the
 * Parquet lake, applies the forget journal in the same loop (lake.ts), and deletes partitions past the lake's
 * retention. One process of a deployment writes: it holds the `lake-writer` lease in the log, renewed each batch;
 * the others stand by and take over when it lapses. Its position is the consumer group `lake` of the log.
 */
export class LakeWriter {
  readonly holder = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly state: LakeWriterStatus;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private nextRetentionMs = 0;
  private readonly now: () => number;
  private readonly counters: Record<
    'compacted' | 'forgets' | 'forgottenRows' | 'partitions' | 'failures',
    Counter
  >;

  constructor(private readonly options: LakeWriterOptions) {
    this.now = options.now ?? Date.now;
    this.state = { role: 'starting', holder: this.holder };
    const registers = [options.registry];
    for (const name of METRICS) options.registry.removeSingleMetric(name);
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers });
    this.counters = {
      compacted: counter(
        'etaserve_lake_compacted_events_total',
        'Events the lake writer compacted into the lake',
      ),
      forgets: counter(
        'etaserve_lake_forgets_applied_total',
        'Forget journal entries the lake writer applied to the lake',
      ),
      forgottenRows: counter(
        'etaserve_lake_forgotten_rows_total',
        'Lake rows removed because the log forgot their order or rider',
      ),
      partitions: counter(
        'etaserve_lake_partitions_deleted_total',
        'Date partitions of the lake deleted by lake retention (pipeline.lakeRetentionDays)',
      ),
      failures: counter(
        'etaserve_lake_writer_failures_total',
        'Lake writer ticks that failed (retried next tick)',
      ),
    };
    const lag = (): Promise<{ seconds: number; entries: number } | undefined> =>
      this.lag().catch(() => undefined);
    const active = (): number => (this.state.role === 'writer' ? 1 : 0);
    new Gauge({
      name: 'etaserve_lake_lag_seconds',
      help: 'Age of the oldest log entry the lake does not have yet (0 when it has everything), by ingest time',
      registers,
      async collect() {
        const now = await lag();
        if (now) this.set(now.seconds);
      },
    });
    new Gauge({
      name: 'etaserve_lake_behind_entries',
      help: `Log entries the lake does not have yet (counted up to ${BEHIND_CAP} where Redis cannot say)`,
      registers,
      async collect() {
        const now = await lag();
        if (now) this.set(now.entries);
      },
    });
    new Gauge({
      name: 'etaserve_lake_writer_active',
      help: '1 while this process holds the lake-writer lease and writes the lake, else 0 (another process does)',
      registers,
      collect() {
        this.set(active());
      },
    });
  }

  private get leaseMs(): number {
    return Math.max(30_000, 3 * this.options.intervalMs);
  }

  status(): LakeWriterStatus {
    return { ...this.state };
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule(this.options.intervalMs));
    }, ms);
    this.timer.unref();
  }

  /** One round now (or the one running): compaction, the forget journal, retention when due. */
  tick(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    const { log, lake, logger } = this.options;
    try {
      const r = await compactEventLog(log, lake, {
        batch: this.options.batch,
        lease: { holder: this.holder, ttlMs: this.leaseMs, keep: true },
      });
      if (r.writerElsewhere) {
        if (this.state.role !== 'standby')
          logger.info('lake writer: another process writes the lake; standing by');
        this.state.role = 'standby';
        this.state.position = undefined;
        return;
      }
      if (this.state.role !== 'writer')
        logger.info({ from: r.from }, 'lake writer: this process writes the lake');
      this.state.role = 'writer';
      this.state.position = r.next;
      this.counters.compacted.inc(r.events);
      this.counters.forgets.inc(r.forgets);
      this.counters.forgottenRows.inc(r.forgottenRows);
      if (r.events > 0) logger.debug({ events: r.events, next: r.next }, 'lake writer: compacted');
      if (r.forgets > 0)
        logger.info(
          { entries: r.forgets, rows: r.forgottenRows },
          'lake writer: applied the forget journal to the lake',
        );
      const now = this.now();
      if (now >= this.nextRetentionMs) {
        const dropped = await dropOldPartitions(lake, this.options.retentionDays, now);
        this.nextRetentionMs = now + RETENTION_EVERY_MS;
        if (dropped.length > 0) {
          this.counters.partitions.inc(dropped.length);
          logger.info(
            { dates: dropped, retentionDays: this.options.retentionDays },
            'lake retention deleted old date partitions',
          );
        }
        await dropStaleStaging(lake, now);
        const merged = await mergeSmallFiles(lake, now);
        if (merged.length > 0)
          logger.info({ partitions: merged }, 'lake writer: merged the small files of settled hours');
      }
      this.state.lastSuccessAtMs = now;
      delete this.state.lastError;
    } catch (e) {
      this.counters.failures.inc();
      this.state.lastError = (e as Error).message ?? String(e);
      logger.error({ err: e }, 'lake writer: a round failed; the next one retries from the lake checkpoint');
    }
  }

  /**
   * How far the lake is behind the log: the age of the first entry past the lake's position and how many there
   * are. The position is the `lake` group's, published after every batch (a round behind runs several, so this
   * process's own end-of-round position would say the lake lags more than it does), whichever process writes.
   */
  async lag(): Promise<{ seconds: number; entries: number }> {
    const { log } = this.options;
    const position = await log.committed(LAKE_GROUP);
    const from = position === undefined ? 'earliest' : { offset: position };
    const first = (await log.read(from, 1)).records[0];
    if (!first) return { seconds: 0, entries: 0 };
    const seconds = Math.max(0, (this.now() - first.ingestedAtMs) / 1000);
    const known = await (log as { groupLag?: (group: string) => Promise<number | undefined> })
      .groupLag?.(LAKE_GROUP)
      .catch(() => undefined);
    const entries = known ?? (await log.read(from, BEHIND_CAP)).records.length;
    return { seconds, entries };
  }

  /** Readiness: a failing writer is degraded, not unready (the pipeline still trains on what the lake has). */
  check(): { ready: boolean; degraded?: boolean; reason?: string } {
    if (this.state.lastError === undefined) return { ready: true };
    return { ready: true, degraded: true, reason: `lake writer: ${this.state.lastError}` };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.state.role = 'stopped';
    await this.options.log.releaseLease(LAKE_WRITER_LEASE, this.holder).catch(() => undefined);
  }
}
