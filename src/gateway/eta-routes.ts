import type { FastifyPluginAsync } from 'fastify';
import type { PreHandler } from './auth.js';
import {
  Counter,
  EtaError,
  throttledWarn,
  type HttpServer,
  type Logger,
  type Metrics,
} from '../platform/index.js';
import type { BatchEtaRequest, EtaPrediction, EtaResult, Predictor } from '../predictor/index.js';
import type { StoreFeatures } from '../store/index.js';
import type { GatewayConfig } from './config.js';
import { fallbackEtas } from './fallback.js';
import { promisedAt } from './promise.js';
import type { ResponseCache } from './response-cache.js';
import { BatchAnswer, BatchBody, EtaAnswer, EtaBody, ErrorBody } from './schemas.js';

export interface EtaRouteDeps {
  predictor: Predictor;
  stores: StoreFeatures;
  config: GatewayConfig;
  authorizePredict: PreHandler;
  /** Absent when the response cache is off. */
  responses?: ResponseCache;
  logger: Logger;
  metrics: Metrics;
}

function answer(p: EtaPrediction, orderedAtMs: number, config: GatewayConfig, requestId: string): EtaAnswer {
  const round = Math.round;
  return {
    store_id: p.storeId,
    eta_seconds: round(p.p50),
    range_seconds: [round(p.p10), round(p.p90)],
    promised_at: promisedAt(orderedAtMs, p, config),
    components: {
      prep_seconds: round(p.prepSeconds),
      travel_seconds: round(p.travelSeconds),
      other_seconds: round(p.p50 - p.prepSeconds - p.travelSeconds),
      distance_km: Math.round(p.distanceKm * 1000) / 1000,
    },
    model_version: p.modelVersion,
    degraded: p.degraded,
    request_id: requestId,
  };
}

const DAY_MS = 86_400_000;

/**
 * The order time in epoch ms: now when absent. A time outside the plausible window (an order in 1900 or in 3000)
 * is refused with the field named: the model, the opening hours and the promise would all be nonsense for it.
 */
export function orderedAt(
  value: string | undefined,
  window: Pick<GatewayConfig, 'orderedAtMaxPastDays' | 'orderedAtMaxFutureDays'>,
  nowMs = Date.now(),
): number {
  if (value === undefined) return nowMs;
  const at = Date.parse(value);
  if (!Number.isFinite(at))
    throw new EtaError('bad_request', 'ordered_at must be ISO 8601 with an offset', { field: 'ordered_at' });
  if (
    at < nowMs - window.orderedAtMaxPastDays * DAY_MS ||
    at > nowMs + window.orderedAtMaxFutureDays * DAY_MS
  ) {
    throw new EtaError(
      'bad_request',
      `ordered_at must be from ${window.orderedAtMaxPastDays} days before now to ${window.orderedAtMaxFutureDays} days after`,
      { field: 'ordered_at' },
    );
  }
  return at;
}

export function etaRoutes(deps: EtaRouteDeps): FastifyPluginAsync {
  const fallbacks = new Counter({
    name: 'etaserve_degraded_responses_total',
    help: 'ETA answers served by the fallback because no predictor answered',
    labelNames: ['route'],
    registers: [deps.metrics.registry],
  });

  // Per request while no predictor answers: at most once a second.
  const warnFallback = throttledWarn(deps.logger);
  /** Predictors first; if none can answer, the fallback, so the app always gets an ETA. */
  const predictOrFallback = async (request: BatchEtaRequest, route: string): Promise<EtaResult[]> => {
    try {
      return await deps.predictor.predictBatch(request);
    } catch (e) {
      if (e instanceof EtaError && e.status < 500) throw e;
      warnFallback({ err: e, route }, 'no predictor answered: fallback ETA');
      fallbacks.inc({ route });
      return fallbackEtas(deps.stores, request);
    }
  };
  const resolve = (request: BatchEtaRequest, route: string, warmUp: boolean): Promise<EtaResult[]> =>
    deps.responses
      ? deps.responses.resolve(request, (storeIds) => predictOrFallback({ ...request, storeIds }, route), {
          store: !warmUp,
        })
      : predictOrFallback(request, route);

  const plugin = async (app: HttpServer): Promise<void> => {
    app.post(
      '/v1/eta',
      {
        onRequest: deps.authorizePredict,
        schema: {
          summary: 'The ETA for one order at checkout',
          security: [{ bearer: [] }],
          body: EtaBody,
          response: { 200: EtaAnswer, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody },
        },
      },
      async (req) => {
        const b = req.body;
        const at = orderedAt(b.ordered_at, deps.config);
        const [result] = await resolve(
          {
            storeIds: [b.store_id],
            destination: b.destination,
            orderedAtMs: at,
            items: b.items,
            subtotal: b.subtotal,
          },
          '/v1/eta',
          req.warmUp === true,
        );
        if (!result!.ok) throw result!.error;
        return answer(result!.value, at, deps.config, req.id);
      },
    );

    app.post(
      '/v1/eta/batch',
      {
        onRequest: deps.authorizePredict,
        schema: {
          summary: 'ETAs for the stores of a list page: one destination, up to 100 stores',
          security: [{ bearer: [] }],
          body: BatchBody,
          response: { 200: BatchAnswer, 400: ErrorBody },
        },
      },
      async (req) => {
        const b = req.body;
        if (b.store_ids.length > deps.config.maxBatchStores) {
          throw new EtaError('bad_request', `at most ${deps.config.maxBatchStores} stores per batch`, {
            field: 'store_ids',
          });
        }
        const at = orderedAt(b.ordered_at, deps.config);
        const results = await resolve(
          {
            storeIds: b.store_ids,
            destination: b.destination,
            orderedAtMs: at,
            items: b.items,
            subtotal: b.subtotal,
          },
          '/v1/eta/batch',
          req.warmUp === true,
        );
        return {
          results: results.map((r, i) =>
            r.ok
              ? answer(r.value, at, deps.config, req.id)
              : { store_id: b.store_ids[i]!, error: r.error.toBody().error as never },
          ),
          request_id: req.id,
        };
      },
    );
  };
  return plugin as unknown as FastifyPluginAsync;
}
