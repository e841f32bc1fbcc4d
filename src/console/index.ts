import type { FastifyPluginAsync } from 'fastify';
import { statusPage } from './status-page.js';

export function consoleRoutes(options: { name: string; modules: readonly string[] }): FastifyPluginAsync {
  const html = statusPage(options.name, options.modules);
  return async (app) => {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(html));
  };
}
