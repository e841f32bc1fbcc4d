import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger, Registry, Routes, Service } from '../platform/index.js';
import { adminRoutes, type Explain } from './admin-routes.js';
import { liveRoutes, type AdminGuard } from './live-routes.js';
import { LiveSampler } from './sampler.js';
import { registrySource, scrapeSource, type SampleSource } from './samples.js';
import { findConsoleBuild, loadStaticFiles, staticRoutes } from './static-files.js';
import { statusPage } from './status-page.js';
import { StoreTraffic, storeTrafficHook } from './store-traffic.js';

export { CONSOLE_PAGES } from './static-files.js';
export { LiveSampler } from './sampler.js';
export {
  parsePrometheusText,
  registrySource,
  scrapeSource,
  type Sample,
  type SampleSource,
} from './samples.js';
export type { LivePoint } from './snapshot.js';
export { StoreTraffic, storeTrafficHook } from './store-traffic.js';
export type { AdminGuard } from './live-routes.js';
export type { Explain, ExplainInput } from './admin-routes.js';

export interface ConsoleOptions {
  /** This process's name and modules, for the page shown when the console is not built. */
  name: string;
  modules: readonly string[];
  /** This process's metrics. */
  registry: Registry;
  /** The gateway's admin-scope check: every console API call needs the admin key. */
  guard: AdminGuard;
  /** Other processes' /metrics URLs (a local cluster's predictors, store, geo), merged into the live view. */
  scrapeUrls?: readonly string[];
  explain?: Explain;
  logger?: Logger;
  /** The built web app; found beside the compiled module when absent. */
  staticDir?: string;
}

export interface ConsoleModule {
  service: Service;
  routes: Routes;
  sampler: LiveSampler;
  traffic: StoreTraffic;
  /** Add to the whole server (`app.addHook('onResponse', ...)`) so the map knows which stores are asked about. */
  countStoreRequests: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

/**
 * The console: the built single-page app at `/` and its client-side pages, the live metrics stream it draws and
 * the admin JSON it needs beyond the public API. The sampler runs as a service so it starts with the process.
 */
export function createConsoleModule(options: ConsoleOptions): ConsoleModule {
  const sources: SampleSource[] = [
    registrySource(options.registry),
    ...(options.scrapeUrls ?? []).map((u) => scrapeSource(u)),
  ];
  const sampler = new LiveSampler({ sources, logger: options.logger });
  const traffic = new StoreTraffic();
  const dir = options.staticDir ?? findConsoleBuild();
  if (!dir)
    options.logger?.warn('the console is not built (npm run build): serving a plain status page at /');
  const site = dir ? staticRoutes(loadStaticFiles(dir)) : fallbackPage(options.name, options.modules);
  const routes: Routes = async (app) => {
    await app.register(site);
    await app.register(liveRoutes(sampler, options.guard));
    await app.register(adminRoutes({ guard: options.guard, explain: options.explain, traffic }));
  };
  const service: Service = {
    name: 'console',
    start: async () => sampler.start(),
    stop: async () => sampler.stop(),
  };
  return { service, routes, sampler, traffic, countStoreRequests: storeTrafficHook(traffic) };
}

function fallbackPage(name: string, modules: readonly string[]): Routes {
  const html = statusPage(name, modules);
  return async (app) => {
    app.get('/', { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/html; charset=utf-8').send(html),
    );
  };
}
