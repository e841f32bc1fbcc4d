import { randomUUID } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { Counter, Histogram, type Logger, type Metrics } from '../platform/index.js';
import type { ActiveModel, ModelRuntime } from './model-runtime.js';

/** The `rollout` section: how a challenger meets live traffic, and when the champion counts as stale. */
export const rolloutConfigSchema = Type.Object(
  {
    shadowSampleRate: Type.Number({
      default: 0.1,
      minimum: 0,
      maximum: 1,
      description:
        'Share of live requests the challenger also scores, off the response path (shadow); 0 turns shadow off',
    }),
    canaryShare: Type.Number({
      default: 0,
      minimum: 0,
      maximum: 1,
      description:
        'Share of live requests answered by the challenger (canary); model_version in the answer says which',
    }),
    driftPsiThreshold: Type.Number({
      default: 0.25,
      minimum: 0,
      description: 'PSI of a feature above which the champion is marked stale (etaserve_model_stale 1)',
    }),
    driftMinRows: Type.Integer({
      default: 500,
      minimum: 1,
      description:
        'Live rows a feature needs in the drift window before its PSI is judged; fewer: status insufficient, no PSI',
    }),
    driftIntervalMs: Type.Integer({
      default: 60_000,
      minimum: 100,
      description: 'How often the drift window is judged',
    }),
    driftWindowMs: Type.Integer({
      default: 3_600_000,
      minimum: 1_000,
      description:
        'Span of live traffic judged for drift (sliding, in 60 slices), each row against training rows of its hour',
    }),
  },
  { default: {} },
);
export type RolloutConfig = Static<typeof rolloutConfigSchema>;

/** One live request scored by both models: what the prediction-vs-actual join compares once the order is delivered. */
export interface ShadowRecord {
  at_ms: number;
  store_id: string;
  ordered_at_ms: number;
  destination: { lat: number; lng: number };
  served: { version: string; p10: number; p50: number; p90: number };
  shadow: { version: string; p10: number; p50: number; p90: number };
}

/** Where shadow comparisons go: the event log (for the join with deliveries), a test, or nowhere. */
export interface ShadowSink {
  record(batch: readonly ShadowRecord[]): void;
}

/**
 * Shadow comparisons as `app.shadow_prediction` events in the event log, so the accuracy join can match them to
 * `order.created` of the same store, destination and time once the order is delivered.
 */
export function eventLogShadowSink(
  log: { append(events: readonly never[]): Promise<unknown> },
  logger: Logger,
): ShadowSink {
  return {
    record(batch) {
      const events = batch.map((r) => ({
        event_id: randomUUID(),
        type: 'app.shadow_prediction',
        occurred_at: new Date(r.at_ms).toISOString(),
        store_id: r.store_id,
        ordered_at: new Date(r.ordered_at_ms).toISOString(),
        destination: r.destination,
        served: r.served,
        shadow: r.shadow,
      }));
      log
        .append(events as never[])
        .catch((e: unknown) => logger.warn({ err: e }, 'shadow predictions not logged'));
    },
  };
}

/** What the predictor hands over after answering: the rows it scored and who answered. */
export interface ScoredBatch {
  storeIds: readonly string[];
  orderedAtMs: number;
  destination: { lat: number; lng: number };
  rows: Float64Array;
  n: number;
  width: number;
  out: Float64Array;
  served: ActiveModel;
}

const pick = (out: Float64Array, at: number, m: ActiveModel): { p10: number; p50: number; p90: number } => {
  const p50 = out[at + m.p50]!;
  return {
    p10: m.p10 >= 0 ? out[at + m.p10]! : Number.NaN,
    p50,
    p90: m.p90 >= 0 ? out[at + m.p90]! : Number.NaN,
  };
};

/**
 * Canary and shadow. `choose` picks the model that answers a request (the challenger for `canaryShare` of them);
 * `after` scores a sample with the other model off the response path and hands both answers to the sink.
 */
export class Rollout {
  private readonly shadowed: Counter<'challenger'>;
  /** One labelled series per alias, looked up once: `choose` runs on every prediction batch. */
  private readonly servedBy: Record<'champion' | 'challenger', { inc(): void }>;
  private readonly diff: Histogram<'challenger'>;

  constructor(
    private readonly deps: {
      config: RolloutConfig;
      runtime: Pick<ModelRuntime, 'challenger'>;
      sink?: ShadowSink;
      metrics: Metrics;
      random?: () => number;
    },
  ) {
    const registers = [deps.metrics.registry];
    this.shadowed = new Counter({
      name: 'etaserve_shadow_predictions_total',
      help: 'Live predictions also scored by the other model (shadow)',
      labelNames: ['challenger'],
      registers,
    });
    const served = new Counter({
      name: 'etaserve_predictions_by_alias_total',
      help: 'Prediction batches answered by the champion or, in a canary, by the challenger',
      labelNames: ['alias'],
      registers,
    });
    this.servedBy = { champion: served.labels('champion'), challenger: served.labels('challenger') };
    this.diff = new Histogram({
      name: 'etaserve_shadow_p50_difference_seconds',
      help: 'Absolute difference of the challenger’s and the champion’s p50 on the same request',
      labelNames: ['challenger'],
      buckets: [5, 15, 30, 60, 120, 300, 600, 1200],
      registers,
    });
  }

  private rand(): number {
    return (this.deps.random ?? Math.random)();
  }

  choose(champion: ActiveModel): ActiveModel {
    const challenger = this.deps.runtime.challenger;
    const canary =
      challenger !== undefined &&
      this.deps.config.canaryShare > 0 &&
      this.rand() < this.deps.config.canaryShare;
    this.servedBy[canary ? 'challenger' : 'champion'].inc();
    return canary ? challenger : champion;
  }

  after(batch: ScoredBatch, champion: ActiveModel): void {
    const challenger = this.deps.runtime.challenger;
    if (
      !challenger ||
      this.deps.config.shadowSampleRate <= 0 ||
      this.rand() >= this.deps.config.shadowSampleRate
    )
      return;
    const other = batch.served === challenger ? champion : challenger;
    const rows = batch.rows.slice(0, batch.n * batch.width);
    const servedOut = batch.out.slice();
    // Scored after the response is sent: shadow must never add latency to the answer.
    setImmediate(() => {
      const width = other.model.outputNames.length;
      const out = new Float64Array(batch.n * width);
      other.model.predictBatch(rows, batch.n, out);
      const servedWidth = batch.served.model.outputNames.length;
      const records: ShadowRecord[] = [];
      const now = Date.now();
      for (let r = 0; r < batch.n; r++) {
        const served = { version: batch.served.version, ...pick(servedOut, r * servedWidth, batch.served) };
        const shadow = { version: other.version, ...pick(out, r * width, other) };
        this.diff.observe({ challenger: challenger.version }, Math.abs(served.p50 - shadow.p50));
        records.push({
          at_ms: now,
          store_id: batch.storeIds[r]!,
          ordered_at_ms: batch.orderedAtMs,
          destination: batch.destination,
          served,
          shadow,
        });
      }
      this.shadowed.inc({ challenger: challenger.version }, batch.n);
      this.deps.sink?.record(records);
    });
  }
}
