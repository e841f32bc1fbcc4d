import { Pool, type Dispatcher } from 'undici';
import type { CancelSignal } from './cancellation.js';
import { currentContext, outgoingTraceparent } from './context.js';
import { EtaError, HTTP_STATUS, type ErrorCode } from './errors.js';
import { CircuitBreaker, type BreakerOptions, type BreakerState } from './resilience/breaker.js';
import { isReplicaFailure } from './resilience/call.js';
import { afterWaitingIo } from './resilience/deadline.js';

export interface HttpClientOptions {
  /** The module this client calls, for error messages. */
  name: string;
  baseUrl: string;
  connections?: number;
  timeoutMs: number;
  /** The shared internal token (platform.internalToken), sent on every call; empty or absent = none. */
  internalToken?: string;
  /**
   * A circuit breaker over every call: once the remote keeps failing (unreachable, too slow, 5xx), calls fail at
   * once for `openMs` instead of each waiting out its deadline, then one probe decides. Absent: none.
   */
  breaker?: BreakerOptions;
  /** Told of every change of the breaker's state (a metric). */
  onBreakerChange?: (state: BreakerState) => void;
}

/** The header that carries the internal token between the processes of one deployment. */
export const INTERNAL_TOKEN_HEADER = 'x-etaserve-internal-token';

export interface CallOptions {
  timeoutMs?: number;
  signal?: CancelSignal;
  headers?: Record<string, string>;
}

interface Answer {
  statusCode: number;
  text: string;
}

/** Why a call was cut short: our deadline, or the caller's signal. */
class Cut extends Error {
  constructor(readonly byDeadline: boolean) {
    super(byDeadline ? 'deadline' : 'aborted');
  }
}

/**
 * One call as an undici dispatch handler that collects the body as it arrives: no response stream, no abort-signal
 * plumbing inside undici. `headersSeen` tells a remote that broke off its answer from one never reached.
 */
class Exchange implements Dispatcher.DispatchHandler {
  headersSeen = false;
  /** Answered or failed: a deadline that fires now is too late to cut anything. */
  private settled = false;
  private statusCode = 0;
  private readonly chunks: Buffer[] = [];
  private abortFn: ((reason?: Error) => void) | undefined;
  private cut: Cut | undefined;

  constructor(
    private readonly resolve: (answer: Answer) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  /** Aborts the call now or, when it is not connected yet, as soon as undici hands it over. */
  abort(cut: Cut): void {
    if (this.cut || this.settled) return;
    this.cut = cut;
    this.abortFn?.(cut);
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.cut) abort(this.cut);
    else this.abortFn = abort;
  }

  onHeaders(statusCode: number): boolean {
    // An informational answer (1xx) precedes the real one.
    if (statusCode < 200) return true;
    this.headersSeen = true;
    this.statusCode = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    this.settled = true;
    const { chunks } = this;
    const text =
      chunks.length === 0
        ? ''
        : chunks.length === 1
          ? chunks[0]!.toString()
          : Buffer.concat(chunks).toString();
    this.resolve({ statusCode: this.statusCode, text });
  }

  onError(error: Error): void {
    this.settled = true;
    this.reject(error);
  }
}

function onDeadline(exchange: Exchange): void {
  afterWaitingIo(cutByDeadline, exchange);
}

function cutByDeadline(exchange: Exchange): void {
  exchange.abort(new Cut(true));
}

/**
 * JSON over a keep-alive undici pool, with a deadline per call and the caller's trace passed on. A remote error
 * keeps its code (a remote `store_not_found` is ours too); a failure to reach the remote is `upstream_unavailable`.
 * Calls go through `dispatch` with one timer each rather than `request` with `AbortSignal.timeout`: a timeout signal
 * cannot be cleared, so every call used to build and fire a DOMException once its deadline passed, long after the
 * answer came; together with the response stream that was a large share of a hop's CPU.
 */
export class HttpClient {
  private readonly pool: Pool;
  private readonly breaker: CircuitBreaker | undefined;

  constructor(private readonly options: HttpClientOptions) {
    this.pool = new Pool(options.baseUrl, {
      connections: options.connections ?? 32,
      keepAliveTimeout: 30_000,
      pipelining: 1,
    });
    this.breaker = options.breaker
      ? new CircuitBreaker(options.name, options.breaker, options.onBreakerChange)
      : undefined;
  }

  /** The breaker's state, or undefined without one. */
  get breakerState(): BreakerState | undefined {
    return this.breaker?.current;
  }

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  async request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    call: CallOptions = {},
  ): Promise<T> {
    const b = this.breaker;
    if (!b) return this.send<T>(method, path, body, call);
    if (!b.admit()) throw new EtaError('upstream_unavailable', `${this.options.name}: circuit breaker open`);
    const probe = b.current !== 'closed';
    try {
      const value = await this.send<T>(method, path, body, call);
      b.success();
      return value;
    } catch (e) {
      // The caller gave up (its own deadline, a hedge elsewhere): that says nothing about the remote.
      if (call.signal?.aborted) {
        if (probe) b.probeAbandoned();
      } else if (isReplicaFailure(e)) b.failure();
      else b.success();
      throw e;
    }
  }

  private async send<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body: unknown,
    call: CallOptions,
  ): Promise<T> {
    const timeoutMs = call.timeoutMs ?? this.options.timeoutMs;
    const headers: Record<string, string> = call.headers
      ? { accept: 'application/json', ...call.headers }
      : { accept: 'application/json' };
    if (this.options.internalToken) headers[INTERNAL_TOKEN_HEADER] = this.options.internalToken;
    const ctx = currentContext();
    if (ctx) {
      headers.traceparent = outgoingTraceparent(ctx)!;
      headers['x-request-id'] = ctx.requestId;
    }
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    let answer: Answer;
    let exchange!: Exchange;
    const answered = new Promise<Answer>((resolve, reject) => {
      exchange = new Exchange(resolve, reject);
    });
    const timer = setTimeout(onDeadline, timeoutMs, exchange);
    const signal = call.signal;
    const onAbort = (): void => exchange.abort(new Cut(false));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.pool.dispatch({ method, path, headers, body: payload }, exchange);
      answer = await answered;
    } catch (e) {
      const cause = e instanceof Cut && !e.byDeadline ? (signal?.reason ?? e) : e;
      if (e instanceof Cut && e.byDeadline) {
        throw new EtaError(
          'deadline_exceeded',
          exchange.headersSeen
            ? `${this.options.name} broke off its answer`
            : `${this.options.name} did not answer within ${timeoutMs} ms`,
          { cause },
        );
      }
      throw new EtaError(
        'upstream_unavailable',
        exchange.headersSeen
          ? `${this.options.name} broke off its answer`
          : `${this.options.name} is unreachable: ${(cause as Error)?.message ?? String(cause)}`,
        { cause },
      );
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    const { statusCode, text } = answer;
    const parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (statusCode >= 200 && statusCode < 300) return parsed as T;
    const remote = (parsed as { error?: { code?: string; message?: string; field?: string } } | undefined)
      ?.error;
    if (statusCode < 500 && remote?.code && remote.code in HTTP_STATUS) {
      const { code, message, field, ...details } = remote as Record<string, unknown> & {
        code: ErrorCode;
        message: string;
        field?: string;
      };
      throw new EtaError(code, message, { field, details });
    }
    throw new EtaError(
      'upstream_unavailable',
      `${this.options.name} answered ${statusCode}${remote?.message ? `: ${remote.message}` : ''}`,
    );
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
