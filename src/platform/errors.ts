/**
 * Every error code of etaserve, and the one place that maps each to an HTTP status. A code without a status
 * does not compile.
 */
export const HTTP_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  store_not_found: 404,
  model_not_found: 404,
  order_not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  store_exists: 409,
  store_closed: 409,
  conflict: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  headers_too_large: 431,
  out_of_delivery_area: 422,
  model_rejected: 422,
  rate_limited: 429,
  internal: 500,
  upstream_unavailable: 502,
  overloaded: 503,
  not_ready: 503,
  database_unavailable: 503,
  event_log_unavailable: 503,
  model_not_loaded: 503,
  deadline_exceeded: 504,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof HTTP_STATUS;

export interface EtaErrorOptions {
  /** The request field at fault, as a JSON pointer-ish path (`destination.lat`). */
  field?: string;
  cause?: unknown;
  /** Extra fields for the JSON body (`opens_at` for `store_closed`). */
  details?: Record<string, unknown>;
  /** Seconds, for 429 and 503. */
  retryAfter?: number;
}

export class EtaError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options: EtaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EtaError';
    this.code = code;
    this.field = options.field;
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }

  toBody(): { error: Record<string, unknown> } {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.field !== undefined) error.field = this.field;
    if (this.details) Object.assign(error, this.details);
    return { error };
  }
}

export const isEtaError = (e: unknown): e is EtaError => e instanceof EtaError;

/** A refusal to start: a listener, key or storage setup that would leave something open or lose data. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}
