import path from 'node:path';
import {
  Counter,
  defineModule,
  Gauge,
  StartupError,
  type Logger,
  type ModuleContext,
  type Registry,
  type Service,
} from '../platform/index.js';
import type { EventsConfig } from './config.js';
import { FileEventLog } from './file-log.js';
import { EventIngest } from './ingest.js';
import { MemoryEventLog } from './memory-log.js';
import { RedisEventLog } from './redis-log.js';
import type { ShortenedWindow } from './dedupe.js';
import type { EventLog } from './types.js';
import { EventValidator } from './validate.js';

export interface EventsModule {
  service: Service;
  log: EventLog;
  /** Present in the process that writes the log (the gateway's); readers have none. */
  ingest: EventIngest | undefined;
  config: EventsConfig;
}

export interface EventsModuleOptions {
  /** `writer`: this process appends (it runs POST /v1/events). `reader`: it only consumes (store, geo). */
  role: 'writer' | 'reader';
  /** cache.redisUrl, used when backend=redis and events.redisUrl is empty. */
  fallbackRedisUrl?: string;
}

const HOUR = 3_600_000;

export function eventsDir(config: EventsConfig, dataDir: string): string {
  return config.dir || path.join(dataDir, 'events');
}

/** The backend `config` selects: `auto` is Redis Streams when events.redisUrl is set, else segment files. */
export function eventBackend(config: EventsConfig): 'file' | 'redis' | 'memory' {
  return config.backend === 'auto' ? (config.redisUrl ? 'redis' : 'file') : config.backend;
}

/** The metrics of the log's faults, registered once per registry. */
function faultMetrics(registry: Registry): {
  damage: Counter<'kind'>;
  shortened: Counter;
  unread: Counter<'reason'>;
  held: Counter<'group'>;
} {
  const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
  return {
    damage:
      existing<Counter<'kind'>>('etaserve_events_log_damage_total') ??
      new Counter({
        name: 'etaserve_events_log_damage_total',
        help: 'Damaged places found in the event log (kind: active, sealed, format1, offsets); each is quarantined and logged',
        labelNames: ['kind'],
        registers: [registry],
      }),
    shortened:
      existing<Counter>('etaserve_events_dedupe_window_shortened_total') ??
      new Counter({
        name: 'etaserve_events_dedupe_window_shortened_total',
        help: 'Event ids forgotten by dedupe before their window was over, because the id bound (events.dedupeMaxIds) was reached',
        registers: [registry],
      }),
    unread:
      existing<Counter<'reason'>>('etaserve_events_retention_unread_dropped_total') ??
      new Counter({
        name: 'etaserve_events_retention_unread_dropped_total',
        help: 'Segments (file) or entries (Redis) deleted by retention before every consumer group had read them',
        labelNames: ['reason'],
        registers: [registry],
      }),
    held:
      existing<Counter<'group'>>('etaserve_events_retention_held_total') ??
      new Counter({
        name: 'etaserve_events_retention_held_total',
        help: 'Retention runs that kept data past events.retentionHours because a group of events.trimWaitsForGroups (the lake writer) had not read it yet',
        labelNames: ['group'],
        registers: [registry],
      }),
  };
}

export function openEventLog(
  config: EventsConfig,
  dataDir: string,
  options: EventsModuleOptions,
  ctx?: ModuleContext,
): EventLog {
  const backend = eventBackend(config);
  const dedupeWindowMs = config.dedupeWindowHours * HOUR;
  const retentionMs = config.retentionHours * HOUR;
  const log: Logger | undefined = ctx?.logger.child({ module: 'events' });
  const metrics = ctx ? faultMetrics(ctx.metrics.registry) : undefined;
  const onDedupeShortened = (info: ShortenedWindow): void => {
    metrics?.shortened.inc(info.droppedIds);
    log?.warn(
      info,
      'event log dedupe reached events.dedupeMaxIds before its window: the oldest ids were forgotten early (raise dedupeMaxIds or shorten dedupeWindowHours)',
    );
  };
  if (backend === 'redis') {
    const url = config.redisUrl || options.fallbackRedisUrl;
    if (!url) throw new Error('events.backend=redis needs events.redisUrl (or cache.redisUrl)');
    if (!config.redisUrl)
      log?.warn(
        "events.redisUrl is empty: the event log shares the cache's Redis; give it its own (noeviction, appendonly yes)",
      );
    return new RedisEventLog({
      url,
      stream: config.redisStream,
      dedupeWindowMs,
      dedupeMaxIds: config.dedupeMaxIds,
      retentionMs,
      maxDiskBytes: config.maxDiskBytes,
      trimWaitsForGroups: config.trimWaitsForGroups,
      onProblem: (p) => (p.level === 'error' ? log?.error(p.message) : log?.warn(p.message)),
      onDedupeShortened,
    });
  }
  if (backend === 'memory')
    return new MemoryEventLog({
      dedupeWindowMs,
      dedupeMaxIds: config.dedupeMaxIds,
      retentionMs,
      trimWaitsForGroups: config.trimWaitsForGroups,
    });
  return new FileEventLog({
    dir: eventsDir(config, dataDir),
    mode: options.role,
    segmentBytes: config.segmentBytes,
    retentionMs,
    maxDiskBytes: config.maxDiskBytes,
    trimWaitsForGroups: config.trimWaitsForGroups,
    dedupeWindowMs,
    dedupeMaxIds: config.dedupeMaxIds,
    onRepair: (info) => log?.warn(info, 'event log: cut a torn tail left by a crash'),
    onDamage: (report) => {
      metrics?.damage.inc({ kind: report.kind });
      log?.error(
        report,
        'event log: damaged data found; stepped over it, kept a copy, every intact record is still read',
      );
    },
    onDedupeShortened,
  });
}

/** What the log says about its own health: damage found, settings at risk, appends failing. */
function healthOf(log: EventLog): { appendable: boolean; problems: string[] } | undefined {
  return (log as { health?: () => { appendable: boolean; problems: string[] } }).health?.();
}

/** The event log of this process, its retention timer and, in the writer, the ingest behind POST /v1/events. */
export function createEventsModule(
  ctx: ModuleContext,
  config: EventsConfig,
  options: EventsModuleOptions,
): EventsModule {
  const logger = ctx.logger.child({ module: 'events' });
  const log = openEventLog(config, ctx.platform.dataDir, options, ctx);
  const writer = options.role === 'writer';
  const validator = new EventValidator({
    maxEventBytes: config.maxEventBytes,
    maxAppPayloadBytes: config.maxAppPayloadBytes,
    maxFutureMs: config.maxFutureHours * HOUR,
    maxAgeMs: config.retentionHours * HOUR,
  });
  const ingest = writer
    ? new EventIngest(log, validator, { maxBatchEvents: config.maxBatchEvents }, ctx.metrics.registry)
    : undefined;
  let timer: NodeJS.Timeout | undefined;
  let opened = false;

  if (writer && !ctx.metrics.registry.getSingleMetric('etaserve_events_log_bytes')) {
    let last = { bytes: 0, segments: 0 };
    new Gauge({
      name: 'etaserve_events_log_bytes',
      help: 'Size of the retained event log',
      registers: [ctx.metrics.registry],
      async collect() {
        if (opened) last = await log.stats().catch(() => last);
        this.set(last.bytes);
      },
    });
  }

  const retention = async (): Promise<void> => {
    try {
      const r = await log.enforceRetention(Date.now());
      const metrics = faultMetrics(ctx.metrics.registry);
      for (const group of r.heldFor ?? []) metrics.held.inc({ group });
      if (r.heldFor)
        logger.warn(
          r,
          `event log retention keeps data past events.retentionHours until ${r.heldFor.join(', ')} read it (events.trimWaitsForGroups): is the pipeline's lake writer running?`,
        );
      if (r.unread) {
        metrics.unread.inc({ reason: r.unread.reason }, r.unread.segments);
        const waited = r.unread.groups.filter((g) => config.trimWaitsForGroups.includes(g));
        logger.error(
          r,
          waited.length > 0
            ? `event log retention (${r.unread.reason}) deleted data ${waited.join(', ')} had not read: the log's bound forced it, so the lake misses those events`
            : `event log retention (${r.unread.reason}) deleted data consumer groups had not read: ${r.unread.groups.join(', ')}`,
        );
      } else if (r.segmentsDeleted > 0) logger.info(r, 'event log retention deleted old data');
    } catch (e) {
      logger.warn({ err: e }, 'event log retention failed');
    }
  };

  const service: Service = {
    name: 'events',
    check() {
      const health = opened ? healthOf(log) : undefined;
      if (!health || health.problems.length === 0) return { ready: true };
      return { ready: true, degraded: true, reason: health.problems.join('; ') };
    },
    async start() {
      await log.open();
      opened = true;
      const stats = await log.stats();
      logger.info(
        { backend: log.kind, role: options.role, bytes: stats.bytes, segments: stats.segments },
        'event log open',
      );
      if (writer) {
        await retention();
        timer = setInterval(() => void retention(), config.retentionCheckMinutes * 60_000);
        timer.unref();
      }
    },
    async stop() {
      clearInterval(timer);
      opened = false;
      await log.close();
    },
  };
  return { service, log, ingest, config };
}

/** Where the modules of this process project the log from (live store state, rider supply, accuracy). */
export interface LogProjections {
  log: EventLog;
  replayHours: number;
  pollMs: number;
}

export interface EventsProvides extends EventsModule {
  /** Undefined when events.projections is off. */
  projections: LogProjections | undefined;
}

declare module '../platform/module-definition.js' {
  interface ModuleProvides {
    events: EventsProvides;
  }
}

interface EventsModuleConfig {
  events: EventsConfig;
  cache: { redisUrl: string };
  topology: { sharedDisk: boolean };
}

/**
 * The event log of the process: the gateway's process writes it (POST /v1/events); store, geo and the accuracy join
 * project it; the pipeline's lake writer compacts it and applies its forget journal to the lake.
 */
export const eventsModule = defineModule<EventsModuleConfig, EventsProvides>({
  name: 'events',
  description: 'the event log (segment files or Redis Streams): ingest, projections, retention',
  needs: [],
  init({ config, ctx, runs, wholePlatform, targets }) {
    refuseUnsharedFileLog(config, { wholePlatform, targets, runs });
    const events = createEventsModule(ctx, config.events, {
      role: runs('gateway') ? 'writer' : 'reader',
      fallbackRedisUrl: config.cache.redisUrl,
    });
    const projections = config.events.projections
      ? { log: events.log, replayHours: config.events.projectionReplayHours, pollMs: config.events.pollMs }
      : undefined;
    return { provides: { ...events, projections }, services: [events.service] };
  },
});

/**
 * Segment files are read from the local disk: in a multi-process shape, a process on another disk would write a log
 * nobody reads (acknowledged events lost with its volume) or project an empty one. Refused unless configured as one
 * node's shared disk (etaserve up) or the log is Redis Streams.
 */
function refuseUnsharedFileLog(
  config: EventsModuleConfig,
  shape: {
    wholePlatform: boolean;
    targets: readonly string[];
    runs: (name: 'gateway' | 'pipeline' | 'store' | 'geo' | 'orders') => boolean;
  },
): void {
  if (shape.wholePlatform || config.topology.sharedDisk) return;
  // Who opens the log: the gateway appends, the pipeline trains from it, store and geo project it.
  const { runs } = shape;
  const usesLog =
    runs('gateway') ||
    runs('pipeline') ||
    (config.events.projections && (runs('store') || runs('geo') || runs('orders')));
  if (!usesLog || eventBackend(config.events) !== 'file') return;
  throw new StartupError(
    `refusing the file event log in a multi-process shape (--target ${shape.targets.join(',')}): set events.backend=redis and events.redisUrl ` +
      '(ETASERVE_EVENTS_BACKEND=redis, ETASERVE_EVENTS_REDIS_URL) in every process, or topology.sharedDisk=true ' +
      "(ETASERVE_TOPOLOGY_SHARED_DISK) when all of them share this node's data directory, as etaserve up does",
  );
}

/**
 * A log this process may append to, for what it writes itself (shadow comparisons, late-risk alerts): the log of its
 * own events module when it is the writer; else, with Redis Streams (which take appends from every process), an
 * appender of its own, opened and closed by the returned service; else none (segment files have one writer).
 */
export function appenderOf(
  config: { events: EventsConfig; cache: { redisUrl: string } },
  ctx: ModuleContext,
  local: EventsProvides | undefined,
): { log: EventLog | undefined; services: Service[] } {
  if (local?.ingest) return { log: local.log, services: [] };
  if (eventBackend(config.events) !== 'redis') return { log: undefined, services: [] };
  const appender = openEventLog(config.events, ctx.platform.dataDir, {
    role: 'writer',
    fallbackRedisUrl: config.cache.redisUrl,
  });
  return {
    log: appender,
    services: [{ name: 'event-appender', start: () => appender.open(), stop: () => appender.close() }],
  };
}
