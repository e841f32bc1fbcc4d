import { Type, type Static } from 'typebox';

const MiB = 1024 * 1024;

/** The `events` section. Variables are `ETASERVE_EVENTS_<KEY>` (`ETASERVE_EVENTS_RETENTION_HOURS`). */
export const eventsConfigSchema = Type.Object(
  {
    backend: Type.Union(
      [Type.Literal('auto'), Type.Literal('file'), Type.Literal('redis'), Type.Literal('memory')],
      {
        default: 'auto',
        description:
          'The event log: segment files under <dataDir>/events, Redis Streams, or memory (tests). auto = redis when events.redisUrl is set, else file',
      },
    ),
    redisUrl: Type.String({
      default: '',
      description:
        'Redis for the event log (Redis Streams); backend=redis with this empty uses cache.redisUrl',
    }),
    redisStream: Type.String({
      default: 'etaserve:events',
      minLength: 1,
      description: 'Stream key (and key prefix) in Redis',
    }),
    dir: Type.String({
      default: '',
      description: 'Directory of the segment files; empty means <dataDir>/events',
    }),
    segmentBytes: Type.Integer({
      default: 64 * MiB,
      minimum: 4096,
      description: 'A segment file is closed and a new one started past this size',
    }),
    // 9 days: the per-zone prep check replays a day of lag plus a week of baseline (zone-drift.ts) at start.
    retentionHours: Type.Number({
      default: 216,
      minimum: 0,
      description:
        'Segments (file) or entries (Redis) older than this are deleted (0 = keep), once every group of trimWaitsForGroups has read them',
    }),
    maxDiskBytes: Type.Integer({
      default: 10 * 1024 * MiB,
      minimum: 0,
      description: 'The oldest segments are deleted while the log is larger than this (0 = no bound)',
    }),
    trimWaitsForGroups: Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,100}$' }), {
      default: ['lake'],
      description:
        'Consumer groups retention waits for (comma-separated in the env): the time bound keeps entries, and forget journal entries, a group that exists has not read yet (the pipeline’s lake writer is group lake; a deployment without one has no such group and waits for nothing). The disk or memory bound (maxDiskBytes) still trims, logged at error level and counted in etaserve_events_retention_unread_dropped_total{reason="maxDiskBytes"}',
    }),
    maxFutureHours: Type.Number({
      default: 168,
      minimum: 0,
      description:
        'Events whose occurred_at is more than this far ahead of now are refused (events older than retentionHours are too)',
    }),
    retentionCheckMinutes: Type.Number({
      default: 5,
      minimum: 0.01,
      description: 'How often retention runs',
    }),
    dedupeWindowHours: Type.Number({
      default: 0.25,
      minimum: 0,
      description:
        'A repeated event_id within this long of the first is always a duplicate (forgotten by window x 16/15); held exactly, as 127-bit hashes: in the writer process (file log) or the events Redis',
    }),
    dedupeMaxIds: Type.Integer({
      default: 24_000_000,
      minimum: 1000,
      description:
        'Memory bound of dedupe: most event ids held (file log: 27-40 bytes each, ~0.65-1 GB at the bound; Redis: about 70 bytes each). Reaching it forgets the oldest ids early, logged and counted in etaserve_events_dedupe_window_shortened_total',
    }),
    maxBatchEvents: Type.Integer({
      default: 5000,
      minimum: 1,
      maximum: 100_000,
      description: 'Most events in one POST /v1/events',
    }),
    maxBatchBytes: Type.Integer({
      default: MiB,
      minimum: 1024,
      maximum: 64 * MiB,
      description: 'Largest POST /v1/events body',
    }),
    maxEventBytes: Type.Integer({
      default: 16 * 1024,
      minimum: 256,
      description: 'Largest single event (its JSON)',
    }),
    maxAppPayloadBytes: Type.Integer({
      default: 2048,
      minimum: 64,
      description: 'Largest payload of an app.* event',
    }),
    pollMs: Type.Integer({
      default: 250,
      minimum: 5,
      maximum: 60_000,
      description: 'How often an idle consumer looks for new records',
    }),
    projectionReplayHours: Type.Number({
      default: 24,
      minimum: 0,
      description:
        'In-memory projections (live store state, rider supply, accuracy) rebuild from this much of the log at start',
    }),
    accuracyWindowMinutes: Type.Number({
      default: 60,
      minimum: 1,
      description: 'The online accuracy gauges cover deliveries of this recent window',
    }),
    projections: Type.Boolean({
      default: true,
      description: 'Run the projections of this process (store, geo, accuracy) over the log',
    }),
  },
  { default: {} },
);

export type EventsConfig = Static<typeof eventsConfigSchema>;
