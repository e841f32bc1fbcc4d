import type { HttpServer } from '../platform/index.js';

const METHODS = 'GET, POST, PUT, PATCH, DELETE';
const HEADERS = 'authorization, content-type, traceparent, x-request-id';

/**
 * CORS for the listed origins only; with none (the default) no CORS header is ever sent, so browsers on other
 * origins cannot read answers. `*` allows any origin, without credentials (keys go in a header, not cookies).
 */
export function registerCors(app: HttpServer, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const any = origins.includes('*');
  const allowed = new Set(origins);
  const allow = (origin: string | undefined): string | undefined => {
    if (!origin) return undefined;
    if (any) return '*';
    return allowed.has(origin) ? origin : undefined;
  };
  app.addHook('onRequest', (req, reply, done) => {
    const origin = allow(req.headers.origin);
    if (!any) void reply.header('vary', 'Origin');
    if (origin) void reply.header('access-control-allow-origin', origin);
    done();
  });
  app.options('/*', { schema: { hide: true } }, async (req, reply) => {
    if (!allow(req.headers.origin))
      return reply
        .code(403)
        .send({ error: { code: 'forbidden', message: 'origin not allowed', field: 'origin' } });
    return reply
      .code(204)
      .header('access-control-allow-methods', METHODS)
      .header('access-control-allow-headers', HEADERS)
      .header('access-control-max-age', '600')
      .send();
  });
}
