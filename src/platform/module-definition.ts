import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Server } from 'node:http';
import type { HttpClient } from './http-client.js';
import type { HttpServer, HttpServerOptions } from './http-server.js';
import type { Service } from './lifecycle.js';
import type { Logger } from './logger.js';
import type { ModuleContext } from './module-context.js';

/**
 * What each module provides to the modules that need it, by name. Every module's `module.ts` adds its own entry
 * (TypeScript declaration merging), so `init.get('store')` is typed without the platform knowing the modules.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ModuleProvides {}

export type ModuleName = keyof ModuleProvides & string;

/** Routes as a module writes them: a plugin of the platform's HTTP server (TypeBox schemas, pino logger). */
export type Routes = FastifyPluginAsync<Record<never, never>, Server, TypeBoxTypeProvider, Logger>;

/** A route plugin, registered under `prefix` when set. */
export interface RoutePlugin {
  plugin: Routes | FastifyPluginAsync;
  prefix?: string;
}

/** What a module's `init` (or its remote client) hands back to the composition root. */
export interface ModuleParts<P> {
  provides: P;
  /** Started in dependency order, stopped in reverse. */
  services?: Service[];
  /** Routes other processes of the deployment call, behind the internal token. */
  internalRoutes?: RoutePlugin[];
  /** The public API of the process (the gateway's). */
  publicApi?: (app: HttpServer) => Promise<void>;
  /** Admission control of the public HTTP server, from the module that owns it. */
  admission?: HttpServerOptions['admission'];
  /**
   * Real requests through the process's own listeners, once they are open and before it turns ready: the first
   * requests of real traffic then find the code compiled and the connections open (docs/architecture.md).
   */
  warmUp?: (origins: ListenerOrigins, signal: AbortSignal) => Promise<void>;
}

/** Where this process's own listeners answer, for its warm-up (`http://127.0.0.1:port`). */
export interface ListenerOrigins {
  public?: string;
  internal?: string;
}

/** What `init` gets: the configuration, the process's context and the modules it needs. */
export interface ModuleInit<Config> {
  config: Config;
  ctx: ModuleContext;
  /** The targets the process was started with (`all` included). */
  targets: readonly string[];
  /** The process's name in logs and metrics (`all`, `predictor`, `gateway+store`). */
  processName: string;
  /** Whether `name` runs in this process (not remote, not absent). */
  runs(name: ModuleName): boolean;
  /** Every module this process runs in itself. */
  local: readonly ModuleName[];
  /** Every module of the table runs in this one process (`--target all`): nothing else shares its files. */
  wholePlatform: boolean;
  /** A needed module, in this process or its remote client. */
  get<N extends ModuleName>(name: N): ModuleProvides[N];
  /** A module used when present: undefined when it is neither in this process nor remote. */
  find<N extends ModuleName>(name: N): ModuleProvides[N] | undefined;
  /** An HTTP client to another process of the deployment: its deadline, internal token and breaker set. */
  remote(name: string, baseUrl: string): HttpClient;
  /** The deployment's internal token, when set. */
  internalToken: string | undefined;
  /** A child of `etaserve up` (one machine), which may run the demo shapes. */
  localCluster: boolean;
}

/**
 * One module of the table (`src/app/modules.ts`): its name, what it needs, its port when it is a runnable target,
 * how it is built in this process and, when it can run elsewhere, the client that stands in for it.
 */
export interface ModuleDefinition<Config = never, P = unknown> {
  name: ModuleName;
  description: string;
  /** Modules it cannot work without: in this process, or their remote client. */
  needs: readonly ModuleName[];
  /** Modules it uses when this process runs them, and works without otherwise. */
  uses?: readonly ModuleName[];
  /** A runnable target (`--target name`) serves on this port; modules without one only back others. */
  port?: (config: Config) => number;
  init(init: ModuleInit<Config>): ModuleParts<P> | Promise<ModuleParts<P>>;
  remote?: {
    /** Modules its client needs in this process (the store client's caches). */
    needs?: readonly ModuleName[];
    /** Whether the configuration points at another process for it. */
    configured(config: Config): boolean;
    client(init: ModuleInit<Config>): ModuleParts<P>;
  };
}

/** Declares a module: a typed identity, so each module's definition checks against its own config and provides. */
export function defineModule<Config, P>(
  definition: ModuleDefinition<Config, P>,
): ModuleDefinition<Config, P> {
  return definition;
}
