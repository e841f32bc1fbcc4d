import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { HttpServer } from '../platform/index.js';

/** OpenAPI 3, generated from the route schemas; the spec at /docs/json and a browsable page at /docs. */
export async function registerApiDocs(app: HttpServer, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'etaserve',
        description: 'Delivery ETAs in milliseconds: checkout and list pages, store catalog, events.',
        version,
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key' } },
      },
    },
    hideUntagged: false,
    transform: ({ schema, url }) => {
      // Internal module-to-module routes, health and metrics are not the public API.
      const hidden =
        url.startsWith('/internal/') ||
        ['/healthz', '/readyz', '/metrics'].includes(url) ||
        url.startsWith('/docs');
      return { schema: hidden ? { ...schema, hide: true } : schema, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
