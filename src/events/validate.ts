import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { err, ok, type Result } from '../platform/index.js';
import { nestingDepth } from './body.js';
import { APP_TYPE, CURRENT_SCHEMA_VERSION, EVENT_SCHEMAS_V1, SCHEMA_VERSIONS } from './schemas.js';
import type { EtaEvent } from './types.js';

/** Why one event was refused: a short code for clients and metric labels, and a message naming the field. */
export type RejectCode =
  | 'not_an_object'
  | 'missing_field'
  | 'invalid_type'
  | 'invalid_value'
  | 'unknown_type'
  | 'unsupported_version'
  | 'bad_timestamp'
  | 'too_large'
  | 'too_deep'
  | 'invalid_json';

export interface Rejection {
  code: RejectCode;
  message: string;
  field?: string;
}

/** ISO 8601 with a date, a time and an offset (Z or ±hh:mm): a local time without one is ambiguous. */
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export const isIsoWithOffset = (v: string): boolean =>
  ISO_WITH_OFFSET.test(v) && Number.isFinite(Date.parse(v));

const CODE_OF_KEYWORD: Record<string, RejectCode> = {
  required: 'missing_field',
  type: 'invalid_type',
  format: 'bad_timestamp',
};

function rejectionOf(e: ErrorObject): Rejection {
  const parts = e.instancePath.split('/').filter(Boolean);
  const params = e.params as Record<string, unknown>;
  if (typeof params.missingProperty === 'string') parts.push(params.missingProperty);
  const field = parts.join('.');
  const code = CODE_OF_KEYWORD[e.keyword] ?? 'invalid_value';
  const message = code === 'missing_field' ? `${field} is required` : `${field} ${e.message ?? 'is invalid'}`;
  return { code, message, field };
}

/** Deepest nesting an event may have: events are flat but for small objects and pairs. */
export const MAX_EVENT_DEPTH = 32;

const HOUR_MS = 3_600_000;

export interface EventLimits {
  maxEventBytes: number;
  maxAppPayloadBytes: number;
  /** `occurred_at` at most this far ahead of now; absent = no bound. */
  maxFutureMs?: number;
  /** `occurred_at` at most this old (the log's retention); absent or 0 = no bound but the Unix epoch. */
  maxAgeMs?: number;
  now?: () => number;
}

/** Validates events one by one against their type's schema; compiled once. */
export class EventValidator {
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly now: () => number;

  constructor(private readonly limits: EventLimits) {
    this.now = limits.now ?? Date.now;
    const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false });
    ajv.addFormat('iso-with-offset', { type: 'string', validate: isIsoWithOffset });
    for (const [type, schema] of Object.entries(EVENT_SCHEMAS_V1))
      this.validators.set(type, ajv.compile(schema));
  }

  /** `bytes` is the event's JSON size when the caller knows it (its bytes in the request body). */
  validate(raw: unknown, bytes?: number): Result<EtaEvent, Rejection> {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      return err({ code: 'not_an_object', message: 'an event is a JSON object' });
    }
    const e = raw as Record<string, unknown>;
    // Before anything recursive (JSON.stringify below, the log, projections) walks it.
    if (nestingDepth(e, MAX_EVENT_DEPTH) > MAX_EVENT_DEPTH) {
      return err({ code: 'too_deep', message: `an event nests at most ${MAX_EVENT_DEPTH} levels deep` });
    }
    const size = bytes ?? Buffer.byteLength(JSON.stringify(e));
    if (size > this.limits.maxEventBytes) {
      return err({
        code: 'too_large',
        message: `event is ${size} bytes; at most ${this.limits.maxEventBytes}`,
      });
    }
    for (const field of ['event_id', 'type', 'occurred_at'] as const) {
      if (e[field] === undefined)
        return err({ code: 'missing_field', message: `${field} is required`, field });
      if (typeof e[field] !== 'string')
        return err({ code: 'invalid_type', message: `${field} must be a string`, field });
    }
    const eventId = e.event_id as string;
    if (eventId.length === 0 || eventId.length > 128) {
      return err({
        code: 'invalid_value',
        message: 'event_id must be 1 to 128 characters',
        field: 'event_id',
      });
    }
    if (!isIsoWithOffset(e.occurred_at as string)) {
      return err({
        code: 'bad_timestamp',
        message: 'occurred_at must be ISO 8601 with an offset (2026-01-31T12:00:00Z)',
        field: 'occurred_at',
      });
    }
    const window = this.outsideWindow(Date.parse(e.occurred_at as string));
    if (window) return err({ code: 'bad_timestamp', message: `occurred_at ${window}`, field: 'occurred_at' });
    if (e.schema_version !== undefined && !SCHEMA_VERSIONS.includes(e.schema_version as 1)) {
      return err({
        code: 'unsupported_version',
        message: `schema_version must be one of ${SCHEMA_VERSIONS.join(', ')}`,
        field: 'schema_version',
      });
    }
    const type = e.type as string;
    const isApp = type.startsWith('app.');
    if (isApp && !APP_TYPE.test(type)) {
      return err({
        code: 'unknown_type',
        message: 'app event types are app.<lowercase name>',
        field: 'type',
      });
    }
    const validator = this.validators.get(isApp ? 'app' : type);
    if (!validator)
      return err({ code: 'unknown_type', message: `unknown event type ${type}`, field: 'type' });
    if (isApp && size > this.limits.maxAppPayloadBytes) {
      return err({
        code: 'too_large',
        message: `app events are at most ${this.limits.maxAppPayloadBytes} bytes`,
      });
    }
    if (!validator(e)) return err(rejectionOf(validator.errors![0]!));
    e.schema_version ??= CURRENT_SCHEMA_VERSION;
    return ok(e as EtaEvent);
  }

  /** Why an event time is implausible (an event dated 0001 or 3000), or undefined. */
  private outsideWindow(atMs: number): string | undefined {
    const now = this.now();
    const { maxFutureMs, maxAgeMs } = this.limits;
    if (maxFutureMs !== undefined && atMs > now + maxFutureMs)
      return `is more than ${maxFutureMs / HOUR_MS} hours ahead of now`;
    if (maxAgeMs !== undefined && maxAgeMs > 0 && atMs < now - maxAgeMs)
      return `is older than the event log keeps events (${maxAgeMs / HOUR_MS} hours)`;
    if (atMs < 0) return 'is before 1970';
    return undefined;
  }
}
