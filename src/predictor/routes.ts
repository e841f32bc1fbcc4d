import type { FastifyPluginAsync } from 'fastify';
import type { HttpServer } from '../platform/index.js';
import { InternalBatchBody, InternalBatchResponse } from './schemas.js';
import type { Predictor } from './types.js';
import { resultToWire } from './wire.js';

/** The predictor's own ETA endpoint, called by gateways when the predictor runs as its own process. */
export function predictorInternalRoutes(predictor: Predictor): FastifyPluginAsync {
  const plugin = async (app: HttpServer): Promise<void> => {
    app.post(
      '/internal/predict/batch',
      { schema: { body: InternalBatchBody, response: { 200: InternalBatchResponse } } },
      async (req) => {
        const b = req.body;
        const results = await predictor.predictBatch({
          storeIds: b.store_ids,
          destination: b.destination,
          orderedAtMs: b.ordered_at_ms,
          items: b.items,
          subtotal: b.subtotal,
        });
        return { results: results.map(resultToWire) };
      },
    );
  };
  return plugin as unknown as FastifyPluginAsync;
}
