import { Pool } from 'undici';
import { outgoingTraceparent, requestContext } from './context.js';
import { EtaError, HTTP_STATUS, type ErrorCode } from './errors.js';

export interface HttpClientOptions {
  /** The module this client calls, for error messages. */
  name: string;
  baseUrl: string;
  connections?: number;
  timeoutMs: number;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/**
 * JSON over a keep-alive undici pool, with a deadline per call and the caller's trace passed on. A remote error
 * keeps its code (a remote `store_not_found` is ours too); a failure to reach the remote is `upstream_unavailable`.
 */
export class HttpClient {
  private readonly pool: Pool;

  constructor(private readonly options: HttpClientOptions) {
    this.pool = new Pool(options.baseUrl, {
      connections: options.connections ?? 32,
      keepAliveTimeout: 30_000,
      pipelining: 1,
    });
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
    const timeoutMs = call.timeoutMs ?? this.options.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
    const traceparent = outgoingTraceparent();
    if (traceparent) headers.traceparent = traceparent;
    const requestId = requestContext.getStore()?.requestId;
    if (requestId) headers['x-request-id'] = requestId;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    let res;
    try {
      res = await this.pool.request({ method, path, headers, body: payload, signal });
    } catch (e) {
      if (timeout.aborted) {
        throw new EtaError(
          'deadline_exceeded',
          `${this.options.name} did not answer within ${timeoutMs} ms`,
          { cause: e },
        );
      }
      throw new EtaError(
        'upstream_unavailable',
        `${this.options.name} is unreachable: ${(e as Error).message}`,
        { cause: e },
      );
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (e) {
      throw new EtaError(
        timeout.aborted ? 'deadline_exceeded' : 'upstream_unavailable',
        `${this.options.name} broke off its answer`,
        { cause: e },
      );
    }
    const parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (res.statusCode >= 200 && res.statusCode < 300) return parsed as T;
    const remote = (parsed as { error?: { code?: string; message?: string; field?: string } } | undefined)
      ?.error;
    if (res.statusCode < 500 && remote?.code && remote.code in HTTP_STATUS) {
      const { code, message, field, ...details } = remote as Record<string, unknown> & {
        code: ErrorCode;
        message: string;
        field?: string;
      };
      throw new EtaError(code, message, { field, details });
    }
    throw new EtaError(
      'upstream_unavailable',
      `${this.options.name} answered ${res.statusCode}${remote?.message ? `: ${remote.message}` : ''}`,
    );
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
