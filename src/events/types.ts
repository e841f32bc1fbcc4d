/**
 * The event log's public contract. The ingest route, the projections and the offline compaction all speak only
 * this; the file and Redis backends (and a future Kafka one) implement it.
 */

/** The order lifecycle, rider positions, and free-form app behaviour events (`app.` + a name). */
export const ORDER_EVENT_TYPES = [
  'order.created',
  'order.accepted',
  'order.ready',
  'order.picked_up',
  'order.delivered',
  'order.cancelled',
  'order.rider_assigned',
  'order.late_risk',
] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];
export type EventType = OrderEventType | 'rider.location' | `app.${string}`;

/**
 * One event as sent to `POST /v1/events`: flat, with its type's fields beside the envelope. `occurred_at` is ISO
 * 8601 with an offset. Validated before it reaches the log, so a consumer may trust its type's fields.
 */
export interface EtaEvent {
  event_id: string;
  type: EventType;
  occurred_at: string;
  /** The schema version the event was validated against; set at ingest when the sender leaves it out. */
  schema_version?: number;
  [field: string]: unknown;
}

export interface OrderCreatedEvent extends EtaEvent {
  type: 'order.created';
  order_id: string;
  store_id: string;
  customer_id?: string;
  destination: { lat: number; lng: number };
  items: number;
  subtotal: number;
  quoted_eta_seconds: number;
  quoted_range_seconds: [number, number];
  promised_at: string;
  model_version: string;
}

export interface OrderStepEvent extends EtaEvent {
  type: Exclude<OrderEventType, 'order.created'>;
  order_id: string;
  store_id: string;
  rider_id?: string;
  reason?: string;
}

export interface RiderLocationEvent extends EtaEvent {
  type: 'rider.location';
  rider_id: string;
  lat: number;
  lng: number;
  available?: boolean;
}

/**
 * A position in a log. Opaque: compare only with the log's own `compare`. The file log uses the record's byte
 * position across all segments (`"1048576"`), Redis its stream entry id (`"1732600000000-0"`).
 */
export type LogOffset = string;

/** Where a read or a new consumer group starts. */
export type StartAt = 'earliest' | 'latest' | { offset: LogOffset } | { sinceMs: number };

/** Records may be shared by every consumer in a process: treat them as read-only. */
export interface LogRecord {
  offset: LogOffset;
  /** When the log durably accepted it (ms since epoch). */
  ingestedAtMs: number;
  event: EtaEvent;
}

export interface ReadResult {
  records: LogRecord[];
  /** Pass back to `read` for what follows; equal to `from` when nothing new was there. */
  next: LogOffset;
}

/**
 * The events of one append as their sender wrote them: byte ranges of the request body, so the log stores those
 * bytes rather than serialising each event again. Index i describes the append's event i.
 */
export interface EncodedEvents {
  body: Buffer;
  start: Uint32Array;
  /** 0 when event i has no bytes to reuse (it is serialised instead). */
  end: Uint32Array;
  /** 1 when ingest set `schema_version` (the sender left it out): it is appended to the stored JSON. */
  addVersion: Uint8Array;
}

export interface AppendResult {
  /** Per input event, in order: its offset, or null when its event_id was already in the log (a duplicate). */
  offsets: Array<LogOffset | null>;
}

/** Called with each batch in log order. Throwing (or rejecting) redelivers the batch: at-least-once. */
export type RecordHandler = (records: readonly LogRecord[]) => void | Promise<void>;

export interface SubscribeOptions {
  /** Where a group with no committed offset starts (default 'earliest'); `from` overrides the committed offset. */
  start?: StartAt;
  /** Ignore the committed offset and start at `start`: in-memory projections rebuild from a window of the log. */
  ignoreCommitted?: boolean;
  maxBatch?: number;
  /** How often an idle consumer looks for new records (ms). */
  pollMs?: number;
  /** Commit the offset at most this often (ms, default 1000) and at close; a crash redelivers up to that much. */
  commitIntervalMs?: number;
  onError?: (error: unknown) => void;
}

export interface Subscription {
  readonly group: string;
  /** Resolves once the consumer has caught up with what the log held when called: for tests and readiness. */
  caughtUp(): Promise<void>;
  /** Stops after the batch in hand; commits its offset. */
  close(): Promise<void>;
}

/** Who to forget: a customer (and their orders), explicit orders, or a rider. */
export type ForgetRequest = { customerId: string } | { orderIds: string[] } | { riderId: string };

export interface ForgetResult {
  /** Records rewritten without their personal fields. */
  redacted: number;
  orderIds: string[];
  riderIds: string[];
  customerIds: string[];
}

/**
 * Called in the process that forgot, after the log forgot someone. Derived data in other processes (the lake, the
 * store and geo projections) follows the forget journal instead (`EventLog.forgets`).
 */
export type ForgetHook = (request: ForgetRequest, result: ForgetResult) => Promise<void>;

/** One forget as the journal keeps it: whom it covered, so derived data in every process forgets them too. */
export interface ForgetEntry {
  /** The entry's position in the journal: pass it back to `read` to continue after it. */
  id: string;
  atMs: number;
  orderIds: string[];
  riderIds: string[];
  customerIds: string[];
}

/**
 * The forget journal: every `forget` appends whom it covered, in the log's own infrastructure (a second stream in
 * the same hash slot, a small file beside the segments, memory), so processes that hold data derived from the log
 * (the pipeline's lake, the store and geo projections) forget the same people wherever they run.
 */
export interface ForgetJournal {
  append(result: ForgetResult, atMs: number): Promise<string>;
  /** Entries after `after` ('earliest': all retained), oldest first; `next` continues after the last one. */
  read(after: string | 'earliest', max: number): Promise<{ entries: ForgetEntry[]; next: string }>;
  /** The position after the newest entry: a follower that starts now reads from here. */
  latest(): Promise<string>;
  /** A group's position in the journal (the lake writer's is `lake`), or undefined when it never committed. */
  committed(group: string): Promise<string | undefined>;
  commit(group: string, next: string): Promise<void>;
  /**
   * Drops entries older than `beforeMs`, but none a group of `waitFor` has not read past: the lake must apply an
   * entry before it may go. Answers how many went and which groups held some back.
   */
  trim(beforeMs: number, waitFor: readonly string[]): Promise<{ deleted: number; heldFor: string[] }>;
}

export interface RetentionResult {
  segmentsDeleted: number;
  bytesDeleted: number;
  /** Data deleted that some consumer group had not read yet: always logged and counted, never silent. */
  unread?: { segments: number; bytes: number; groups: string[]; reason: 'retention' | 'maxDiskBytes' };
  /**
   * Groups of `events.trimWaitsForGroups` that kept data past the retention period: the time bound waits until
   * they have read it (the disk or memory bound does not).
   */
  heldFor?: string[];
}

export interface LogStats {
  bytes: number;
  /** Segment files (file log); 1 for a stream. */
  segments: number;
  first: LogOffset;
  next: LogOffset;
}

/**
 * The event log. Appends are durable when they resolve (fsync'd for files, acknowledged by Redis for streams) and
 * deduplicated by `event_id` within the dedupe window. Reads are in append order.
 */
export interface EventLog {
  readonly kind: 'file' | 'redis' | 'memory';
  open(): Promise<void>;
  /** `encoded`, when the caller has them, are the events' bytes as received: a log may store them as they are. */
  append(events: readonly EtaEvent[], encoded?: EncodedEvents): Promise<AppendResult>;
  read(from: LogOffset | StartAt, max: number): Promise<ReadResult>;
  /** The offset a consumer group would resume from, or undefined when it never committed. */
  committed(group: string): Promise<LogOffset | undefined>;
  commit(group: string, next: LogOffset): Promise<void>;
  subscribe(group: string, handler: RecordHandler, options?: SubscribeOptions): Subscription;
  /** Negative when `a` is before `b`. */
  compare(a: LogOffset, b: LogOffset): number;
  /** Drops segments (or stream entries) older than the retention period or beyond the disk bound. */
  enforceRetention(nowMs: number): Promise<RetentionResult>;
  /** Removes the people's personal data from the log, then appends whom it covered to `forgets`. */
  forget(request: ForgetRequest): Promise<ForgetResult>;
  onForget(hook: ForgetHook): void;
  readonly forgets: ForgetJournal;
  /**
   * A lease named `name` for `holder`, kept in the log's infrastructure so one process of a deployment does a job
   * (the lake writer): true when `holder` has it now (taken, or renewed) for `ttlMs`.
   */
  claimLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  /** `next` is where the next appended record will be: `read(first..next)` is the whole retained log. */
  stats(): Promise<LogStats>;
  close(): Promise<void>;
}
