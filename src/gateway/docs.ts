import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { HttpServer } from '../platform/index.js';

/**
 * The route schemas are draft-07 (what the request validator, Ajv, runs); OpenAPI 3.1 schemas are JSON Schema
 * 2020-12. The one construct that differs in what we emit is the tuple (opening-hours intervals): draft-07's
 * `items: [a, b]` + `additionalItems: false` is 2020-12's `prefixItems: [a, b]` + `items: false`. Rewritten here,
 * on the document only, so validation is unchanged. Pure: returns a converted copy.
 */
export function toJsonSchema2020(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema2020);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  const src = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(src)) {
    if (key === 'additionalItems' && Array.isArray(src.items)) continue;
    if (key === 'items' && Array.isArray(value)) {
      out.prefixItems = value.map(toJsonSchema2020);
      // A tuple without additionalItems allows any further items, as `items` absent does in 2020-12.
      if (src.additionalItems !== undefined && src.additionalItems !== true)
        out.items = toJsonSchema2020(src.additionalItems);
      continue;
    }
    out[key] = toJsonSchema2020(value);
  }
  return out;
}

/**
 * OpenAPI 3.1, generated from the route schemas; the spec at /docs/json and a browsable page at /docs. 3.1 rather
 * than 3.0 because our schemas use JSON Schema that 3.0's subset lacks (numeric `exclusiveMinimum`, tuples, `const`);
 * test/openapi.test.ts checks the document with a standard validator and compiles a client generated from it.
 */
export async function registerApiDocs(app: HttpServer, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
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
    transformObject: (document) =>
      'openapiObject' in document
        ? (toJsonSchema2020(document.openapiObject) as typeof document.openapiObject)
        : document.swaggerObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
