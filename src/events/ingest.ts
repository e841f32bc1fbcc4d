import { Counter, EtaError, Histogram, LATENCY_BUCKETS, type Registry } from '../platform/index.js';
import type { EventValidator, RejectCode } from './validate.js';
import type { EtaEvent, EventLog } from './types.js';

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

  async ingest(items: readonly RawItem[]): Promise<IngestAnswer> {
    if (items.length > this.limits.maxBatchEvents) {
      throw new EtaError(
        'payload_too_large',
        `at most ${this.limits.maxBatchEvents} events per request; got ${items.length}`,
        { field: 'body' },
      );
    }
    const rejected: IngestRejection[] = [];
    const good: EtaEvent[] = [];
    for (let index = 0; index < items.length; index++) {
      const item = items[index]!;
      if ('invalid' in item) {
        rejected.push({ index, code: 'invalid_json', message: `line is not JSON: ${item.invalid}` });
        this.outcomes.inc({ type: 'unknown', result: 'invalid_json' });
        continue;
      }
      const checked = this.validator.validate(item.value, item.bytes);
      if (checked.ok) good.push(checked.value);
      else {
        rejected.push({ index, ...checked.error });
        this.outcomes.inc({ type: typeLabel(item.value), result: checked.error.code });
      }
    }
    let accepted = 0;
    if (good.length > 0) {
      const stop = this.appendSeconds.startTimer();
      let offsets;
      try {
        ({ offsets } = await this.log.append(good));
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
      const counts = new Map<string, number>();
      for (let i = 0; i < good.length; i++) {
        const fresh = offsets[i] !== null;
        if (fresh) accepted++;
        const key = `${typeLabel(good[i])}|${fresh ? 'accepted' : 'duplicate'}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [key, n] of counts) {
        const [type, result] = key.split('|') as [string, string];
        this.outcomes.inc({ type, result }, n);
      }
    }
    return { accepted, duplicates: good.length - accepted, rejected };
  }
}

const KNOWN = new Set([
  'order.created',
  'order.accepted',
  'order.ready',
  'order.picked_up',
  'order.delivered',
  'order.cancelled',
  'rider.location',
]);

/** Metric labels stay bounded: app events are one label, anything unknown another. */
function typeLabel(value: unknown): string {
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type !== 'string') return 'unknown';
  if (type.startsWith('app.')) return 'app';
  return KNOWN.has(type) ? type : 'unknown';
}
