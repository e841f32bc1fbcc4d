import { Counter, EtaError, Histogram, LATENCY_BUCKETS, type Registry } from '../platform/index.js';
import { poisoned, type EventBatch } from './body.js';
import type { EventValidator, RejectCode } from './validate.js';
import { ORDER_EVENT_TYPES, type EncodedEvents, type EtaEvent, type EventLog } from './types.js';

export interface IngestRejection {
  /** Position of the event in the batch (NDJSON: among the non-blank lines), from 0. */
  index: number;
  code: RejectCode;
  message: string;
  field?: string;
}

export interface IngestAnswer {
  accepted: number;
  duplicates: number;
  rejected: IngestRejection[];
}

/** One item of a batch before validation: a parsed value, or a line that was not JSON. */
export type RawItem = { value: unknown; bytes?: number } | { invalid: string };

export interface IngestLimits {
  maxBatchEvents: number;
}

/** Splits an NDJSON body; a line that is not JSON becomes a rejection of that item alone. */
export function parseNdjson(body: string): RawItem[] {
  const items: RawItem[] = [];
  for (const line of body.split('\n')) {
    const text = line.trim();
    if (text === '') continue;
    try {
      items.push({ value: JSON.parse(text), bytes: Buffer.byteLength(text) });
    } catch (e) {
      items.push({ invalid: (e as Error).message });
    }
  }
  return items;
}

/** Bounded metric labels: the known types, every app event as one, anything else as another. */
const LABELS = [...ORDER_EVENT_TYPES, 'rider.location', 'app', 'unknown'] as const;
const LABEL_OF = new Map<string, number>(LABELS.slice(0, 7).map((l, i) => [l, i]));
const APP = 7;
const UNKNOWN = 8;

function labelOf(value: unknown): number {
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type !== 'string') return UNKNOWN;
  if (type.startsWith('app.')) return APP;
  return LABEL_OF.get(type) ?? UNKNOWN;
}

const ID_PREFIX = Buffer.from('{"event_id":"');

/**
 * Whether the received bytes start with `{"event_id":"<id>"` for the id validation saw: the log's readers take the
 * id from the first key, so only then are the bytes stored as they came.
 */
function startsWithId(body: Buffer, start: number, end: number, id: string): boolean {
  const from = start + ID_PREFIX.length;
  if (end - from < id.length + 1) return false;
  for (let j = 0; j < ID_PREFIX.length; j++) if (body[start + j] !== ID_PREFIX[j]) return false;
  for (let j = 0; j < id.length; j++) {
    const c = id.charCodeAt(j);
    if (c >= 0x80) {
      const bytes = Buffer.byteLength(id);
      return body[from + bytes] === 0x22 && body.toString('utf8', from, from + bytes) === id;
    }
    if (body[from + j] !== c) return false;
  }
  return body[from + id.length] === 0x22;
}

/**
 * `POST /v1/events` behind the route: validates every event on its own, appends the good ones in one durable
 * append, and answers what was accepted, what was a duplicate and what was refused and why.
 */
export class EventIngest {
  private readonly outcomes: Counter<'type' | 'result'>;
  private readonly appendSeconds: Histogram<string>;

  constructor(
    private readonly log: EventLog,
    private readonly validator: EventValidator,
    private readonly limits: IngestLimits,
    registry: Registry,
  ) {
    const registers = [registry];
    this.outcomes =
      (registry.getSingleMetric('etaserve_events_ingested_total') as
        Counter<'type' | 'result'> | undefined) ??
      new Counter({
        name: 'etaserve_events_ingested_total',
        help: 'Events received by type and result (accepted, duplicate, or the rejection code)',
        labelNames: ['type', 'result'],
        registers,
      });
    this.appendSeconds =
      (registry.getSingleMetric('etaserve_events_append_seconds') as Histogram<string> | undefined) ??
      new Histogram({
        name: 'etaserve_events_append_seconds',
        help: 'Time to durably append one ingest batch to the event log',
        buckets: LATENCY_BUCKETS,
        registers,
      });
  }

  /** Parsed items without their bytes (other callers than the route): each valid event is serialised once. */
  async ingest(items: readonly RawItem[]): Promise<IngestAnswer> {
    const values = items.map((item) => ('invalid' in item ? undefined : item.value));
    const errors = items.map((item) => ('invalid' in item ? item.invalid : undefined));
    const end = Uint32Array.from(items, (item) => ('bytes' in item ? (item.bytes ?? 0) : 0));
    return this.ingestBatch({
      body: Buffer.alloc(0),
      values,
      errors,
      start: new Uint32Array(items.length),
      end,
      suspect: false,
    });
  }

  /** A request body split by `parseJsonArrayBody` or `parseNdjsonBody`: valid events keep their received bytes. */
  async ingestBatch(batch: EventBatch): Promise<IngestAnswer> {
    const n = batch.values.length;
    if (n > this.limits.maxBatchEvents) {
      throw new EtaError(
        'payload_too_large',
        `at most ${this.limits.maxBatchEvents} events per request; got ${n}`,
        { field: 'body' },
      );
    }
    const rejected: IngestRejection[] = [];
    const good: EtaEvent[] = [];
    const encoded: EncodedEvents = {
      body: batch.body,
      start: new Uint32Array(n),
      end: new Uint32Array(n),
      addVersion: new Uint8Array(n),
    };
    const reject = (index: number, value: unknown, r: Omit<IngestRejection, 'index'>): void => {
      rejected.push({ index, ...r });
      this.outcomes.inc({ type: LABELS[labelOf(value)], result: r.code });
    };
    for (let i = 0; i < n; i++) {
      const error = batch.errors?.[i];
      if (error !== undefined) {
        reject(i, undefined, { code: 'invalid_json', message: `line is not JSON: ${error}` });
        continue;
      }
      const value = batch.values[i];
      if (batch.suspect && poisoned(value)) {
        reject(i, value, {
          code: 'invalid_value',
          message: 'an event may not carry __proto__ or constructor.prototype keys',
        });
        continue;
      }
      const s = batch.start[i]!;
      const e = batch.end[i]!;
      const hadVersion = (value as { schema_version?: unknown } | null)?.schema_version !== undefined;
      const checked = this.validator.validate(value, e > 0 ? e - s : undefined);
      if (!checked.ok) {
        reject(i, value, checked.error);
        continue;
      }
      const g = good.length;
      good.push(checked.value);
      if (e > s && batch.body.length > 0 && startsWithId(batch.body, s, e, checked.value.event_id)) {
        encoded.start[g] = s;
        encoded.end[g] = e;
        encoded.addVersion[g] = hadVersion ? 0 : 1;
      }
    }
    let accepted = 0;
    if (good.length > 0) {
      const stop = this.appendSeconds.startTimer();
      let offsets;
      try {
        ({ offsets } = await this.log.append(good, encoded));
      } catch (e) {
        throw new EtaError(
          'event_log_unavailable',
          'the event log could not write the batch; nothing was acknowledged, send it again',
          { cause: e, retryAfter: 1 },
        );
      } finally {
        stop();
      }
      // Counted per batch, not per event: a label lookup per event costs more than the rest of the ingest.
      const counts = new Uint32Array(LABELS.length * 2);
      for (let i = 0; i < good.length; i++) {
        const fresh = offsets[i] !== null;
        if (fresh) accepted++;
        const k = labelOf(good[i]) * 2 + (fresh ? 0 : 1);
        counts[k] = counts[k]! + 1;
      }
      for (let l = 0; l < LABELS.length; l++) {
        if (counts[2 * l]! > 0) this.outcomes.inc({ type: LABELS[l], result: 'accepted' }, counts[2 * l]);
        if (counts[2 * l + 1]! > 0)
          this.outcomes.inc({ type: LABELS[l], result: 'duplicate' }, counts[2 * l + 1]);
      }
    }
    return { accepted, duplicates: good.length - accepted, rejected };
  }
}
