import { Type, type Static } from 'typebox';
import { EtaError, type HttpServer, type Routes } from '../platform/index.js';
import type { AdminGuard } from './live-routes.js';
import type { StoreTraffic } from './store-traffic.js';

/** One order to explain: the same fields as `POST /v1/eta`. */
export interface ExplainInput {
  storeId: string;
  destination: { lat: number; lng: number };
  orderedAtMs: number;
  items?: number | undefined;
  subtotal?: number | undefined;
}

/** The predictor's explanation as JSON (see src/predictor/explain.ts); the console passes it through. */
export type Explain = (input: ExplainInput) => Promise<unknown>;

const ExplainBody = Type.Object(
  {
    store_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' }),
    destination: Type.Object(
      { lat: Type.Number({ minimum: -90, maximum: 90 }), lng: Type.Number({ minimum: -180, maximum: 180 }) },
      { additionalProperties: false },
    ),
    items: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    subtotal: Type.Optional(Type.Number({ minimum: 0, maximum: 1_000_000 })),
    ordered_at: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

const TrafficQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })) },
  { additionalProperties: false },
);

/** Admin JSON for the console's pages: why an ETA is what it is, and which stores are asked about most. */
export function adminRoutes(deps: { guard: AdminGuard; explain?: Explain; traffic?: StoreTraffic }): Routes {
  const plugin = async (app: HttpServer): Promise<void> => {
    app.post(
      '/v1/admin/explain',
      {
        onRequest: deps.guard,
        schema: {
          summary: 'One ETA with its feature vector and each feature’s contribution to p10, p50 and p90',
          tags: ['admin'],
          security: [{ bearer: [] }],
          body: ExplainBody,
        },
      },
      async (req) => {
        if (!deps.explain)
          throw new EtaError('not_found', 'no predictor is reachable from this process to explain');
        const b: Static<typeof ExplainBody> = req.body;
        return deps.explain({
          storeId: b.store_id,
          destination: b.destination,
          orderedAtMs: b.ordered_at === undefined ? Date.now() : Date.parse(b.ordered_at),
          items: b.items,
          subtotal: b.subtotal,
        });
      },
    );

    app.get(
      '/v1/admin/stores/traffic',
      {
        onRequest: deps.guard,
        schema: {
          summary: 'ETA requests per store over the last 15 minutes, busiest first',
          tags: ['admin'],
          security: [{ bearer: [] }],
          querystring: TrafficQuery,
        },
      },
      async (req) => {
        const top = deps.traffic?.top(req.query.limit) ?? { windowSeconds: 0, total: 0, stores: [] };
        return {
          window_seconds: top.windowSeconds,
          total: top.total,
          stores: top.stores.map((s) => ({
            store_id: s.storeId,
            requests: s.requests,
            share: top.total > 0 ? Math.round((s.requests / top.total) * 1e6) / 1e6 : 0,
          })),
        };
      },
    );
  };
  return plugin;
}
