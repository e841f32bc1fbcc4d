export { Cancellation, NEVER_CANCELLED, type CancelSignal } from './cancellation.js';
export { ConfigError, configLeaves, describeExpected, loadConfig, type LoadConfigOptions } from './config.js';
export { configReference } from './config-reference.js';
export {
  contextFromHeaders,
  currentContext,
  outgoingTraceparent,
  withContext,
  type RequestContext,
} from './context.js';
export {
  EtaError,
  HTTP_STATUS,
  isEtaError,
  StartupError,
  type ErrorCode,
  type EtaErrorOptions,
} from './errors.js';
export {
  HttpClient,
  INTERNAL_TOKEN_HEADER,
  type CallOptions,
  type HttpClientOptions,
} from './http-client.js';
export {
  createHttpServer,
  sendError,
  type HttpServer,
  type HttpServerOptions,
  type Readiness,
  routesOf,
  type RouteEntry,
} from './http-server.js';
export { exitOnSignals, ServiceManager, type Service, type ServiceState } from './lifecycle.js';
export { createLogger, throttledWarn, type Logger, type LoggerOptions } from './logger.js';
export {
  Counter,
  counterSeries,
  createMetrics,
  Gauge,
  Histogram,
  histogramSeries,
  LATENCY_BUCKETS,
  Registry,
  type CounterSeries,
  type HistogramSeries,
  type Metrics,
} from './metrics.js';
export {
  deploymentSqliteFile,
  isLoopback,
  platformConfigSchema,
  type PlatformConfig,
} from './platform-config.js';
export { ErrorBody, errorBodyOf } from './error-body.js';
export { err, ok, type Result } from './result.js';
export { fetchWithin } from './fetch-within.js';
export { requireWithin, within } from './within.js';
export { chunks } from './chunks.js';
export type { ModuleContext } from './module-context.js';
export {
  defineModule,
  type ListenerOrigins,
  type ModuleDefinition,
  type ModuleInit,
  type ModuleName,
  type ModuleParts,
  type ModuleProvides,
  type RoutePlugin,
  type Routes,
} from './module-definition.js';
export {
  migrateOnce,
  postgresRunner,
  runMigrations,
  sqliteRunner,
  type Migration,
  type SqlRunner,
} from './sql-migrations.js';
export * from './resilience/index.js';
