import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { contextFromHeaders, withContext, type RequestContext } from './context.js';
import { EtaError } from './errors.js';
import { lazyChildLogger, type Logger } from './logger.js';
import { histogramSeries, type HistogramSeries, type Metrics } from './metrics.js';

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
  /** Admission control: asked first for every request; a refusal is sent before the body is read. */
  admission?: {
    admit(url: string): EtaError | undefined;
    release(): void;
  };
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const CONTEXT = Symbol('etaserve.requestContext');
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
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
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
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) table.push({ method, url: route.url });
    const handler = route.handler as (this: unknown, req: FastifyRequest, reply: FastifyReply) => unknown;
    route.handler = function traced(this: unknown, req: FastifyRequest, reply: FastifyReply) {
      return withContext(contextOf(req), () => handler.call(this, req, reply));
    } as typeof route.handler;
  });

  app.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-request-id', contextOf(req).requestId);
    const admission = options.admission;
    if (admission) {
      const refusal = admission.admit(req.url);
      if (refusal) {
        sendError(reply, refusal);
        return;
      }
      // 'close' fires whether the answer was sent or the client went away.
      reply.raw.once('close', () => admission.release());
    }
    done();
  });

  app.addHook('onSend', (_req, reply, payload, done) => {
    if (options.isDraining?.()) void reply.header('connection', 'close');
    done(null, payload);
  });

  // One series per route, method and status (a bounded set: route patterns, not URLs).
  const durations = new Map<string, HistogramSeries>();
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const key = `${reply.statusCode} ${req.method} ${route}`;
    let series = durations.get(key);
    if (!series) {
      series = histogramSeries(options.metrics.httpDuration, {
        route,
        method: req.method,
        status_code: String(reply.statusCode),
      });
      durations.set(key, series);
    }
    series.observe(reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler((error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const mapped = toEtaError(error);
    if (mapped.status >= 500) req.log.error({ err: error, code: mapped.code }, 'request failed');
    return sendError(reply, mapped);
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new EtaError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`)),
  );

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
