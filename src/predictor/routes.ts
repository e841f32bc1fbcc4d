import type { FastifyPluginAsync } from 'fastify';
import type { HttpServer } from '../platform/index.js';
import { BatchEtaRequestSchema, BatchEtaResponseSchema } from './schemas.js';
import type { Predictor } from './types.js';
import { resultToWire } from './wire.js';

/** Marks a predictor's warm-up calls to its own route: its warm-up predictor answers them, left out of metrics. */
export const WARM_UP_HEADER = 'x-etaserve-warm-up';

/**
 * The predictor's own ETA endpoint, called by gateways when the predictor runs as its own process. The body is the
 * `BatchEtaRequest` the gateway built, as it is; the answers are serialized by the response schema.
 */
export function predictorInternalRoutes(predictor: Predictor, warmUp?: Predictor): FastifyPluginAsync {
  const plugin = async (app: HttpServer): Promise<void> => {
    app.post(
      '/internal/predict/batch',
      { schema: { body: BatchEtaRequestSchema, response: { 200: BatchEtaResponseSchema } } },
      async (req) => {
        const warming = warmUp !== undefined && req.headers[WARM_UP_HEADER] === '1';
        req.warmUp = warming;
        const answering = warming ? warmUp : predictor;
        return { results: (await answering.predictBatch(req.body)).map(resultToWire) };
      },
    );
  };
  return plugin as unknown as FastifyPluginAsync;
}
