import { Type } from 'typebox';
import { LatLngSchema } from '../features/index.js';
import { HttpClient, isEtaError, type HttpServer, type Routes } from '../platform/index.js';
import type { EtaPredictor } from './eta.js';
import type { ActiveModel } from './model-runtime.js';
import type { EtaRequest } from './types.js';

/** One feature of the explained order: its value and how many seconds it moved each quantile. */
export interface FeatureContribution {
  feature: string;
  /** The value the model saw; null when missing. Categorical values show their category. */
  value: number | string | null;
  p50_seconds: number;
  p10_seconds: number | null;
  p90_seconds: number | null;
}

/** An ETA and why: the answer, the feature vector behind it and each feature's contribution, largest first. */
export interface EtaExplanation {
  store_id: string;
  model_version: string;
  eta_seconds: number;
  range_seconds: [number, number];
  components: { prep_seconds: number; travel_seconds: number; distance_km: number };
  degraded: boolean;
  /** What every prediction starts from before any feature speaks: the base score plus the trees' root values. */
  bias_seconds: { p50: number; p10: number | null; p90: number | null };
  /**
   * The served value minus bias and contributions: the range's calibration and the reordering of crossed
   * quantiles. Zero for p50 of a plain model.
   */
  adjustment_seconds: { p50: number; p10: number | null; p90: number | null };
  features: FeatureContribution[];
}

const r1 = (x: number): number => Math.round(x * 10) / 10;

function perOutput(active: ActiveModel, row: Float64Array, index: number): Float64Array | null {
  return index >= 0 ? active.model.contributions(row, index) : null;
}

/**
 * Saabas contributions of the served model on the served feature vector (see src/model/explain.ts): per feature
 * the change in expected value along the order's path through each tree; bias and contributions sum to the raw
 * model output.
 */
export async function explainEta(predictor: EtaPredictor, request: EtaRequest): Promise<EtaExplanation> {
  const { result, row, active } = await predictor.predictWithRow(request);
  if (!result.ok) throw result.error;
  const p = result.value;
  if (!row || !active) throw new Error('the predictor answered without a feature vector');
  const spec = active.model.spec;
  const c50 = perOutput(active, row, active.p50)!;
  const c10 = perOutput(active, row, active.p10);
  const c90 = perOutput(active, row, active.p90);
  const nF = spec.length;
  const sum = (c: Float64Array | null): number | null => (c ? c.reduce((a, b) => a + b, 0) : null);
  const adjust = (served: number, c: Float64Array | null): number | null => {
    const raw = sum(c);
    return raw === null ? null : r1(served - raw);
  };
  const features: FeatureContribution[] = spec.map((f, i) => {
    const v = row[i]!;
    const value = Number.isNaN(v)
      ? null
      : f.type === 'categorical' && f.categories
        ? (f.categories[v] ?? v)
        : r1(v * 100) / 100;
    return {
      feature: f.name,
      value,
      p50_seconds: r1(c50[i]!),
      p10_seconds: c10 ? r1(c10[i]!) : null,
      p90_seconds: c90 ? r1(c90[i]!) : null,
    };
  });
  features.sort((a, b) => Math.abs(b.p50_seconds) - Math.abs(a.p50_seconds));
  return {
    store_id: p.storeId,
    model_version: p.modelVersion,
    eta_seconds: Math.round(p.p50),
    range_seconds: [Math.round(p.p10), Math.round(p.p90)],
    components: {
      prep_seconds: Math.round(p.prepSeconds),
      travel_seconds: Math.round(p.travelSeconds),
      distance_km: Math.round(p.distanceKm * 1000) / 1000,
    },
    degraded: p.degraded,
    bias_seconds: { p50: r1(c50[nF]!), p10: c10 ? r1(c10[nF]!) : null, p90: c90 ? r1(c90[nF]!) : null },
    adjustment_seconds: { p50: adjust(p.p50, c50)!, p10: adjust(p.p10, c10), p90: adjust(p.p90, c90) },
    features,
  };
}

const InternalExplainBody = Type.Object({
  store_id: Type.String({ minLength: 1 }),
  destination: LatLngSchema,
  ordered_at_ms: Type.Number(),
  items: Type.Optional(Type.Integer({ minimum: 0 })),
  subtotal: Type.Optional(Type.Number({ minimum: 0 })),
});

/** The predictor's explain endpoint, for a gateway whose predictors run as other processes. */
export function explainRoutes(predictor: EtaPredictor): Routes {
  const plugin = async (app: HttpServer): Promise<void> => {
    app.post('/internal/predict/explain', { schema: { body: InternalExplainBody } }, async (req) => {
      const b = req.body;
      return explainEta(predictor, {
        storeId: b.store_id,
        destination: b.destination,
        orderedAtMs: b.ordered_at_ms,
        items: b.items,
        subtotal: b.subtotal,
      });
    });
  };
  return plugin;
}

/** Explanations from remote predictor replicas: the first one that answers. */
export class ExplainClient {
  private readonly clients: HttpClient[];

  constructor(baseUrls: readonly string[], timeoutMs = 2000, internalToken = '') {
    this.clients = baseUrls.map(
      (baseUrl) =>
        new HttpClient({ name: `predictor ${baseUrl}`, baseUrl, timeoutMs, connections: 2, internalToken }),
    );
  }

  async explain(request: EtaRequest): Promise<EtaExplanation> {
    const body = {
      store_id: request.storeId,
      destination: request.destination,
      ordered_at_ms: request.orderedAtMs,
      ...(request.items !== undefined ? { items: request.items } : {}),
      ...(request.subtotal !== undefined ? { subtotal: request.subtotal } : {}),
    };
    let last: unknown = new Error('no predictor replica is configured');
    for (const client of this.clients) {
      try {
        return await client.request<EtaExplanation>('POST', '/internal/predict/explain', body);
      } catch (e) {
        // A request error (closed store, bad input) is the same on every replica; only unreachability moves on.
        if (isEtaError(e) && e.status < 500) throw e;
        last = e;
      }
    }
    throw last;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}
