import type { FastifyPluginAsync } from 'fastify';
import type { GatewayModule } from '../gateway/index.js';
import {
  createHttpServer,
  createLogger,
  createMetrics,
  DEFAULT_BREAKER,
  HttpClient,
  ServiceManager,
  StartupError,
  type HttpServer,
  type HttpServerOptions,
  type Logger,
  type ModuleContext,
  type ModuleInit,
  type ModuleParts,
  type ModuleProvides,
  type RoutePlugin,
  type Service,
} from '../platform/index.js';
import type { AppConfig } from './config.js';
import { internalTokenGuard, isLoopback, resolveInternalToken } from './internal-auth.js';
import { DEFINITIONS, remoteModules, resolveModules, TARGET_MODULES, type ModuleName } from './modules.js';

export { describeModules, remoteModules } from './modules.js';
export { VERSION } from '../gateway/index.js';

/**
 * One HTTP listener of a process. `public`: the public API (/v1, docs), health, readiness, metrics and the console,
 * every route but those behind an API key. `internal`: the routes other processes of the deployment call
 * (/internal/*, OIP v2 on a predictor process), behind the internal token; health, readiness and metrics stay open.
 */
export interface Listener {
  name: 'public' | 'internal';
  app: HttpServer;
  port: number;
  host: string;
}

export interface ComposeOptions {
  /** A child of `etaserve up` (one machine): a demo shape like `start --target all` when bound to loopback. */
  localCluster?: boolean;
}

export interface ComposedProcess {
  /** The targets this process runs, dependencies first. */
  modules: ModuleName[];
  /** The primary listener: `listeners[0]`. */
  app: HttpServer;
  manager: ServiceManager;
  logger: Logger;
  /** The primary listener's port. */
  port: number;
  /** Every listener of this process, the primary one first. */
  listeners: Listener[];
  gateway: GatewayModule | undefined;
}

/**
 * The composition root: builds the modules of one process for the given targets in dependency order, each in
 * this process or, where the topology names another process for it, as its client. The loop knows no module: the
 * table (`modules.ts`) and each module's definition say what runs, what it needs and what it serves.
 */
export async function composeProcess(
  config: AppConfig,
  targets: readonly string[],
  logger?: Logger,
  options: ComposeOptions = {},
): Promise<ComposedProcess> {
  const remote = remoteModules(config);
  const local = resolveModules(targets, remote);
  const modules = local.filter((m) => TARGET_MODULES.includes(m));
  const host = config.platform.host;
  const internalToken = resolveInternalToken(config.platform) || undefined;
  const name = targets.includes('all') ? 'all' : modules.filter((m) => targets.includes(m)).join('+');
  const log = logger ?? createLogger({ level: config.platform.logLevel, name: `etaserve-${name}` });
  const ctx: ModuleContext = {
    logger: log,
    metrics: createMetrics({ target: name }),
    platform: config.platform,
  };

  const parts = new Map<ModuleName, ModuleParts<unknown>>();
  const partsOf = (module: ModuleName): ModuleParts<unknown> | undefined => {
    const built = parts.get(module);
    if (built || !remote.has(module)) return built;
    // A module of another process: its client, built once, when first needed.
    const client = DEFINITIONS.get(module)!.remote!.client(init);
    parts.set(module, client);
    return client;
  };
  const init: ModuleInit<AppConfig> = {
    config,
    ctx,
    targets,
    processName: name,
    local,
    wholePlatform: TARGET_MODULES.every((m) => local.includes(m)),
    localCluster: options.localCluster === true,
    internalToken,
    runs: (module) => local.includes(module),
    get: <N extends ModuleName>(module: N): ModuleProvides[N] => {
      const found = partsOf(module);
      if (!found) throw new Error(`${module} is neither in this process nor configured in topology`);
      return found.provides as ModuleProvides[N];
    },
    find: <N extends ModuleName>(module: N): ModuleProvides[N] | undefined =>
      partsOf(module)?.provides as ModuleProvides[N] | undefined,
    remote: (dependency, baseUrl) => remoteClient(config, log, internalToken, dependency, baseUrl),
  };
  for (const module of local) parts.set(module, await DEFINITIONS.get(module)!.init(init));

  // Remote clients first (they stop last), then each module in dependency order.
  const built = [...parts.entries()].sort(
    ([a], [b]) =>
      Number(local.includes(a)) - Number(local.includes(b)) || local.indexOf(a) - local.indexOf(b),
  );
  const services: Service[] = built.flatMap(([, p]) => p.services ?? []);
  const internalRoutes: RoutePlugin[] = local.flatMap((m) => parts.get(m)!.internalRoutes ?? []);
  const publicParts = local.map((m) => parts.get(m)!).filter((p) => p.publicApi);
  const [publicApi] = publicParts;

  const serverOptions = {
    logger: log,
    metrics: ctx.metrics,
    // Called per request, after `manager` below exists.
    readiness: () => manager.readiness(),
    isDraining: () => manager.isDraining,
    bodyLimitBytes: config.gateway.bodyLimitBytes,
    http: config.platform.http,
  } satisfies Omit<HttpServerOptions, 'name'>;
  const internal: FastifyPluginAsync = async (scope) => {
    if (internalToken) scope.addHook('onRequest', internalTokenGuard(internalToken));
    for (const r of internalRoutes)
      await scope.register(r.plugin as FastifyPluginAsync, r.prefix ? { prefix: r.prefix } : {});
  };
  const port = portOf(config, modules, targets);
  const listeners: Listener[] = [];
  if (publicApi) {
    const app = createHttpServer({
      name,
      ...serverOptions,
      ...(publicApi.admission ? { admission: publicApi.admission } : {}),
    });
    for (const p of publicParts) await p.publicApi!(app);
    listeners.push({ name: 'public', app, port, host });
    // A process that runs every module it needs reaches no other process, and none reaches it: without remote
    // modules its internal routes stay in it. In a multi-process shape, others reach them on a second listener.
    if (remote.size > 0 && internalRoutes.length > 0) {
      if (config.platform.internalPort > 0) {
        const internalApp = createHttpServer({ name: `${name}-internal`, ...serverOptions });
        await internalApp.register(internal);
        listeners.push({ name: 'internal', app: internalApp, port: config.platform.internalPort, host });
      } else {
        log.info(
          { modules: modules.filter((m) => !parts.get(m)!.publicApi) },
          'these modules serve this process only; set platform.internalPort to serve them to other processes',
        );
      }
    }
  } else {
    const app = createHttpServer({ name, ...serverOptions });
    await app.register(internal);
    listeners.push({ name: 'internal', app, port, host });
  }

  const servesInternal = listeners.some((l) => l.name === 'internal') && internalRoutes.length > 0;
  if (servesInternal && !internalToken) {
    if (!isLoopback(host))
      throw new StartupError(
        `refusing to serve internal routes on ${host} without an internal token: set platform.internalTokenFile ` +
          '(ETASERVE_INTERNAL_TOKEN_FILE, a mounted secret) or platform.internalToken (ETASERVE_INTERNAL_TOKEN) in every process',
      );
    log.warn(
      'internal routes are open to every local process: set platform.internalToken (etaserve up sets one)',
    );
  }

  const http: Service = {
    name: 'http',
    start: async () => {
      for (const l of listeners) await l.app.listen({ port: l.port, host: l.host });
    },
    stop: async () => {
      await Promise.all(listeners.map((l) => l.app.close()));
    },
  };
  const warmUps = local.flatMap((m) => parts.get(m)!.warmUp ?? []);
  // Unready until it ends: a load balancer sends nothing to a process whose code has not run yet.
  const warmUp: Service = {
    name: 'warm-up',
    start: async (signal) => {
      const origins = Object.fromEntries(listeners.map((l) => [l.name, originOf(l)]));
      for (const warm of warmUps) await warm(origins, signal);
    },
  };
  const manager = new ServiceManager([...services, http, ...(warmUps.length > 0 ? [warmUp] : [])], log);
  return {
    modules,
    app: listeners[0]!.app,
    manager,
    logger: log,
    port,
    listeners,
    gateway: local.includes('gateway') ? (parts.get('gateway')!.provides as GatewayModule) : undefined,
  };
}

/** The origin of a listener that is open, from this process (its port may have been chosen by the system). */
function originOf(listener: Listener): string {
  const address = listener.app.server.address();
  const port = typeof address === 'object' && address ? address.port : listener.port;
  const host = ['', '0.0.0.0', '::', 'localhost'].includes(listener.host) ? '127.0.0.1' : listener.host;
  return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

/** A process serves on the port of its last target in dependency order: the one the others are there to serve. */
function portOf(config: AppConfig, modules: readonly ModuleName[], targets: readonly string[]): number {
  const explicit = modules.filter((m) => targets.includes('all') || targets.includes(m));
  const primary = explicit[explicit.length - 1] ?? modules[modules.length - 1]!;
  return DEFINITIONS.get(primary)!.port!(config);
}

/**
 * A client of another process of the deployment. A store or geo that keeps failing is skipped at once (last known
 * features, the fallback) rather than waited for on every request; its breaker's changes are logged.
 */
function remoteClient(
  config: AppConfig,
  log: Logger,
  internalToken: string | undefined,
  dependency: string,
  baseUrl: string,
): HttpClient {
  return new HttpClient({
    name: dependency,
    baseUrl,
    timeoutMs: config.topology.remoteTimeoutMs,
    ...(internalToken ? { internalToken } : {}),
    breaker: DEFAULT_BREAKER,
    onBreakerChange: (state) =>
      (state === 'open' ? log.warn : log.info).call(
        log,
        { dependency, state },
        `${dependency} circuit breaker ${state}`,
      ),
  });
}
