import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormatsModule from 'ajv-formats';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import Fastify, {
  LogController,
  type ConnectionError,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Value } from 'typebox/value';
import { contextFromHeaders, withContext, type RequestContext } from './context.js';
import { EtaError } from './errors.js';
import { lazyChildLogger, type Logger } from './logger.js';
import { histogramSeries, type HistogramSeries, type Metrics } from './metrics.js';
import { httpServerConfigSchema, type HttpServerConfig } from './platform-config.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request only warms its process (the process's own warm-up, before it turns ready): it runs every layer
     * but is left out of the request metrics and of anything that reports traffic.
     */
    warmUp?: boolean;
  }
}

export type HttpServer = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  Logger,
  TypeBoxTypeProvider
>;

/**
 * `ready` and `degraded` both answer /readyz with 200 (a degraded process still serves, and taking every replica
 * out of a load balancer would turn degradation into an outage); `unready` answers 503.
 */
export interface Readiness {
  status: 'ready' | 'degraded' | 'unready';
  ready: boolean;
  reasons: string[];
}

export interface HttpServerOptions {
  name: string;
  logger: Logger;
  metrics: Metrics;
  readiness: () => Readiness;
  /** While draining, answers close their connection, so keep-alive clients cannot hold shutdown open. */
  isDraining?: () => boolean;
  bodyLimitBytes?: number;
  /** Timeouts and connection bounds (`platform.http`); each one left out takes its default. */
  http?: Partial<HttpServerConfig>;
  /**
   * Admission control, asked after the route's own onRequest hooks (authentication) and before the body is read:
   * `check` refuses at once when the process is full. A request holds a slot (`admit`, then `release` when its
   * answer is done) only once its body has arrived, so a client that sends headers and stalls holds a socket until
   * the request timeout, never the capacity of requests that are ready to run.
   */
  admission?: {
    check?(url: string): EtaError | undefined;
    /** The refusal to send, or whether the request was counted (true: `release` follows its answer). */
    admit(url: string): EtaError | boolean;
    release(): void;
  };
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const CONTEXT = Symbol('etaserve.requestContext');
/** Methods numbered for the key of a route's duration series (status * 8 + code). */
const METHOD_CODES: Record<string, number> = {
  GET: 1,
  POST: 2,
  HEAD: 3,
  PUT: 4,
  PATCH: 5,
  DELETE: 6,
  OPTIONS: 7,
};
const ROUTES = Symbol('etaserve.routeTable');

/** One route as fastify registered it: a method and a URL pattern. */
export interface RouteEntry {
  method: string;
  url: string;
}

/** Every route this server registered, recorded from fastify's own `onRoute` (HEAD included). */
export function routesOf(app: HttpServer): readonly RouteEntry[] {
  return (app as unknown as { [ROUTES]: RouteEntry[] })[ROUTES];
}
type RawWithContext = IncomingMessage & { [CONTEXT]?: RequestContext };

function makeAjv(options: AjvOptions): Ajv {
  // allowUnionTypes: fastify's own schemas use `type: [..]`; no coercion of bodies, so "12" is not a number.
  const ajv = new Ajv({
    allErrors: false,
    strict: false,
    useDefaults: true,
    removeAdditional: false,
    allowUnionTypes: true,
    ...options,
  });
  addFormats(ajv);
  return ajv;
}

/** `/destination/lat` + missing `lng` -> `destination.lng` */
function fieldOf(error: FastifyError): string | undefined {
  const first = error.validation?.[0];
  if (!first) return undefined;
  const parts = first.instancePath.split('/').filter(Boolean);
  const params = first.params as Record<string, unknown>;
  if (typeof params.missingProperty === 'string') parts.push(params.missingProperty);
  if (typeof params.additionalProperty === 'string') parts.push(params.additionalProperty);
  const path = parts.join('.');
  return path === '' ? (error.validationContext ?? undefined) : path;
}

function toEtaError(error: FastifyError): EtaError {
  if (error instanceof EtaError) return error;
  if (error.validation) {
    const field = fieldOf(error);
    const where = error.validationContext ?? 'request';
    const first = error.validation[0];
    const missing = (first?.params as Record<string, unknown> | undefined)?.missingProperty !== undefined;
    const message = missing ? `${field} is required` : `${field ?? where} ${first?.message ?? 'is invalid'}`;
    return new EtaError('bad_request', message, { field: field ?? where });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new EtaError('payload_too_large', 'request body is too large', { field: 'body' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new EtaError('unsupported_media_type', 'unsupported content type', { field: 'content-type' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new EtaError('bad_request', 'request body is empty', { field: 'body' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new EtaError('bad_request', 'content-length does not match the body', { field: 'body' });
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new EtaError('invalid_json', `request body is not valid JSON: ${error.message}`, {
      field: 'body',
    });
  }
  const status = error.statusCode ?? 500;
  if (status === 413) return new EtaError('payload_too_large', error.message, { field: 'body' });
  if (status === 429) return new EtaError('rate_limited', error.message);
  if (status >= 400 && status < 500) return new EtaError('bad_request', error.message, { field: 'body' });
  return new EtaError('internal', 'internal error', { cause: error });
}

/**
 * Errors Node's HTTP parser meets before fastify sees a request (a body or headers that never arrive in time, headers
 * over the size bound, malformed HTTP): answered in the one error shape, then the socket is closed.
 */
function clientErrorHandler(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const mapped =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new EtaError('request_timeout', 'the request did not arrive whole in time', { field: 'body' })
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? new EtaError('headers_too_large', 'the request line and headers are too large', {
            field: 'headers',
          })
        : new EtaError('bad_request', 'malformed HTTP request', { field: 'request' });
  // As Node does: answer only when no response of this socket has started, else the bytes would corrupt it.
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !current?.headersSent) {
    const body = JSON.stringify(mapped.toBody());
    socket.write(
      `HTTP/1.1 ${mapped.status} ${STATUS_CODES[mapped.status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

const hasBody = (req: FastifyRequest): boolean =>
  req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

function frameworkError(error: FastifyError): EtaError {
  switch (error.code) {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new EtaError('uri_too_long', 'a path parameter is too long', { field: 'url' });
    case 'FST_ERR_BAD_URL':
      return new EtaError('bad_request', 'the URL is malformed', { field: 'url' });
  }
  return toEtaError(error);
}

export function sendError(reply: FastifyReply, error: EtaError): FastifyReply {
  if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
  return reply.code(error.status).type('application/json').send(error.toBody());
}

/**
 * A fastify instance with what every module needs: request ids and W3C trace context, validation of every part of
 * the request, JSON errors that name the field, latency metrics per route, and health, readiness and metrics routes.
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const bodyAjv = makeAjv({ coerceTypes: false });
  const paramAjv = makeAjv({ coerceTypes: 'array' });
  const limits = Value.Default(httpServerConfigSchema, { ...options.http }) as HttpServerConfig;
  const requestTimeout = limits.requestTimeoutMs;
  const app = Fastify({
    loggerInstance: options.logger,
    // Errors the router raises before any route runs (a bad URL, an over-long path parameter) get the one shape too.
    frameworkErrors: (error, _req, reply) => {
      sendError(reply, frameworkError(error));
    },
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      // Node refuses a headers timeout longer than the request timeout.
      headersTimeout: Math.min(limits.headersTimeoutMs, requestTimeout),
      requestTimeout,
      maxHeaderSize: limits.maxHeaderBytes,
      // How often Node looks for requests past their timeouts (30 s by default, longer than the timeouts).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(requestTimeout / 4))),
    },
    clientErrorHandler,
    // Access logs per request cost more than the ETA itself; latency goes to metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    requestIdHeader: false,
    // The trace context is read once here and kept on the raw request for the onRequest hook.
    genReqId: (req) => {
      const ctx = contextFromHeaders(
        req.headers.traceparent as string | undefined,
        req.headers['x-request-id'] as string | undefined,
      );
      (req as RawWithContext)[CONTEXT] = ctx;
      return ctx.requestId;
    },
    // `req.log` becomes a real child logger only if the request logs. An empty options object would also send pino
    // down its slow path (formatters rebuilt per child).
    childLoggerFactory: (logger, bindings, opts) =>
      lazyChildLogger(logger as Logger, bindings, opts.level === undefined ? undefined : opts),
    ajv: { customOptions: { coerceTypes: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.maxConnections = limits.maxConnections;
  // Declared up front so every request has the same shape, whether or not it warms the process.
  app.decorateRequest('warmUp', false);
  // Bodies are JSON (and NDJSON where a route says so): anything else is 415, not a 400 from a string body.
  app.removeContentTypeParser('text/plain');

  app.setValidatorCompiler(({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? bodyAjv : paramAjv;
    return ajv.compile(schema as object);
  });

  const contextOf = (req: FastifyRequest): RequestContext => {
    const raw = req.raw as RawWithContext;
    return (raw[CONTEXT] ??= contextFromHeaders(req.headers.traceparent as string | undefined, req.id));
  };

  const table: RouteEntry[] = [];
  (app as unknown as { [ROUTES]: RouteEntry[] })[ROUTES] = table;
  // Every route's handler runs with its request's context current, so the calls it makes carry the trace.
  // One series per route, method and status (a bounded set: route patterns, not URLs). Each route's own hook knows
  // its pattern, so no request builds `req.routeOptions` (a dozen fields) or a key string to find its series.
  const durationsOf = (route: string): ((req: FastifyRequest, reply: FastifyReply) => void) => {
    const byStatus = new Map<number, HistogramSeries>();
    // Other methods (Node's parser knows some thirty): a string key, made only for them.
    const others = new Map<string, HistogramSeries>();
    return (req, reply) => {
      const status = reply.statusCode;
      const m = METHOD_CODES[req.method];
      const key = m === undefined ? `${req.method} ${status}` : status * 8 + m;
      let series = typeof key === 'number' ? byStatus.get(key) : others.get(key);
      if (!series) {
        series = histogramSeries(options.metrics.httpDuration, {
          route,
          method: req.method,
          status_code: String(status),
        });
        if (typeof key === 'number') byStatus.set(key, series);
        else others.set(key, series);
      }
      series.observe(reply.elapsedTime / 1000);
    };
  };
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) table.push({ method, url: route.url });
    const observe = durationsOf(route.url);
    const timed = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
      if (req.warmUp !== true) observe(req, reply);
      done();
    };
    route.onResponse = [...[route.onResponse ?? []].flat(), timed] as typeof route.onResponse;
    const handler = route.handler as (this: unknown, req: FastifyRequest, reply: FastifyReply) => unknown;
    route.handler = function traced(this: unknown, req: FastifyRequest, reply: FastifyReply) {
      return withContext(contextOf(req), () => handler.call(this, req, reply));
    } as typeof route.handler;
  });

  app.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-request-id', contextOf(req).requestId);
    done();
  });

  // Admission after every onRequest hook (a route's authentication included), so requests without a valid key
  // are refused before they count, and before the body is read.
  const admission = options.admission;
  if (admission) {
    app.addHook('preParsing', (req, reply, payload, done) => {
      const refusal = admission.check ? admission.check(req.url) : undefined;
      if (refusal) {
        sendError(reply, refusal);
        return;
      }
      done(null, payload);
    });
    app.addHook('preValidation', (req, reply, done) => {
      const admitted = admission.admit(req.url);
      if (admitted instanceof EtaError) {
        sendError(reply, admitted);
        return;
      }
      // 'close' fires whether the answer was sent or the client went away. Probes are not counted, so not released.
      if (admitted) reply.raw.once('close', () => admission.release());
      done();
    });
  }

  app.addHook('onSend', (req, reply, payload, done) => {
    // An answer sent before the request's body arrived (a refusal, 413) closes the connection: the rest of the body
    // would otherwise have to be read, or waited for, before the next request on it.
    if (options.isDraining?.() || (!req.raw.complete && hasBody(req)))
      void reply.header('connection', 'close');
    done(null, payload);
  });

  // Requests no route matched (404, 405): their own series. Matched routes are timed by their route's hook.
  const unmatched = durationsOf('unmatched');
  app.addHook('onResponse', (req, reply, done) => {
    if (req.is404) unmatched(req, reply);
    done();
  });

  app.setErrorHandler((error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const mapped = toEtaError(error);
    if (mapped.status >= 500) req.log.error({ err: error, code: mapped.code }, 'request failed');
    return sendError(reply, mapped);
  });

  // A router of every registered route, built at the first unmatched request (once every route is registered),
  // tells a path that exists under other methods (405 with Allow) from one that does not (404).
  let routes: FindMyWay.Instance<FindMyWay.HTTPVersion.V1> | undefined;
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    if (!routes) {
      routes = FindMyWay();
      for (const r of table) routes.on(r.method as HTTPMethod, r.url, () => undefined);
    }
    const methods = [...new Set(table.map((r) => r.method))];
    const allowed = methods.filter((m) => routes!.find(m as HTTPMethod, path) !== null).sort();
    if (allowed.length > 0) {
      void reply.header('allow', allowed.join(', '));
      return sendError(
        reply,
        new EtaError(
          'method_not_allowed',
          `${req.method} is not allowed on ${path}; use ${allowed.join(', ')}`,
          {
            field: 'method',
          },
        ),
      );
    }
    return sendError(reply, new EtaError('not_found', `no route ${req.method} ${path}`));
  });

  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok', service: options.name }));
  app.get('/readyz', { logLevel: 'warn' }, async (_req, reply) => {
    const readiness = options.readiness();
    return reply
      .code(readiness.ready ? 200 : 503)
      .send({ status: readiness.status, ready: readiness.ready, reasons: readiness.reasons });
  });
  app.get('/metrics', { logLevel: 'warn' }, async (_req, reply) => {
    const body = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(body);
  });

  return app;
}
