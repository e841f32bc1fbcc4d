import type { EventLog, Subscription } from '../../events/index.js';
import { Counter, Gauge, type Logger, type Registry } from '../../platform/index.js';
import { liveComparison, type ShadowSummary } from '../policy.js';
import { AccuracyJoin, type AccuracyStats, type AccuracySummary } from './join.js';
import type { ShadowStats } from './shadow.js';

export interface AccuracyProjectionOptions {
  windowMinutes: number;
  /** How much of the log the join replays at start: it lives in memory. */
  replayHours: number;
  pollMs: number;
  logger: Logger;
  registry: Registry;
}

export interface AccuracyProjection {
  join: AccuracyJoin;
  subscription: Subscription;
  summary(): AccuracySummary;
  /**
   * The live comparison the promotion policy's shadow rule reads: champion and challenger on the same shadowed
   * orders; failing that (no shadowed order delivered yet), each on the orders it served (the canary share).
   */
  comparison(champion: string | undefined, challenger: string | undefined): ShadowSummary | undefined;
  close(): Promise<void>;
}

/**
 * Online accuracy as a projection of the log: consumes `order.created`, `order.delivered` and the predictors'
 * `app.shadow_prediction`, and exports the join's windowed stats per model version as gauges (read when Prometheus
 * scrapes), plus counters of joined deliveries; shadowed orders get the same per pair of versions.
 */
export function startAccuracyProjection(
  log: EventLog,
  options: AccuracyProjectionOptions,
): AccuracyProjection {
  const join = new AccuracyJoin({ windowMs: options.windowMinutes * 60_000 });
  const registers = [options.registry];
  const existing = options.registry.getSingleMetric('etaserve_online_deliveries_total');
  if (existing) for (const name of METRIC_NAMES) options.registry.removeSingleMetric(name);
  const deliveries = new Counter({
    name: 'etaserve_online_deliveries_total',
    help: 'Delivered orders joined with the ETA quoted for them, by model version',
    labelNames: ['model_version'],
    registers,
  });
  join.onObservation((o) => deliveries.inc({ model_version: o.modelVersion }));
  const gauge = (name: string, help: string, pick: (s: AccuracyStats) => number | null): void => {
    new Gauge({
      name,
      help: `${help} over the last ${options.windowMinutes} minutes of deliveries, by model version`,
      labelNames: ['model_version'],
      registers,
      collect() {
        this.reset();
        for (const [version, stats] of join.windowByVersion()) {
          const v = pick(stats);
          if (v !== null) this.set({ model_version: version }, v);
        }
      },
    });
  };
  gauge(
    'etaserve_online_mae_seconds',
    'Mean absolute error of quoted ETAs against actual delivery',
    (s) => s.mae_seconds,
  );
  gauge(
    'etaserve_online_bias_seconds',
    'Mean of quoted minus actual delivery seconds (positive: ETAs too long)',
    (s) => s.bias_seconds,
  );
  gauge(
    'etaserve_online_coverage_ratio',
    'Share of deliveries within the quoted p10-p90 range',
    (s) => s.coverage_ratio,
  );
  gauge(
    'etaserve_online_on_time_ratio',
    'Share of orders delivered by the promised time',
    (s) => s.on_time_ratio,
  );
  const shadowDeliveries = new Counter({
    name: 'etaserve_online_shadow_deliveries_total',
    help: 'Delivered orders both models answered (one served, the other in shadow), by model version and the version it was compared with',
    labelNames: ['model_version', 'compared_with'],
    registers,
  });
  join.onShadowObservation((o) =>
    shadowDeliveries.inc({ model_version: o.modelVersion, compared_with: o.comparedWith }),
  );
  const shadowGauge = (name: string, help: string, pick: (s: ShadowStats) => number | null): void => {
    new Gauge({
      name,
      help: `${help} on the shadowed orders delivered in the last ${options.windowMinutes} minutes, by model version and the version it was compared with on the same orders`,
      labelNames: ['model_version', 'compared_with'],
      registers,
      collect() {
        this.reset();
        for (const p of join.windowShadow().entries()) {
          const v = pick(p);
          if (v !== null) this.set({ model_version: p.model_version, compared_with: p.compared_with }, v);
        }
      },
    });
  };
  shadowGauge(
    'etaserve_online_shadow_mae_seconds',
    'Mean absolute error of the model’s p50 against actual delivery',
    (s) => s.mae_seconds,
  );
  shadowGauge(
    'etaserve_online_shadow_bias_seconds',
    'Mean of the model’s p50 minus actual delivery seconds',
    (s) => s.bias_seconds,
  );
  shadowGauge(
    'etaserve_online_shadow_coverage_ratio',
    'Share of deliveries within the model’s p10-p90 range',
    (s) => s.coverage_ratio,
  );

  const subscription = log.subscribe('accuracy', (records) => join.apply(records), {
    start: { sinceMs: Date.now() - options.replayHours * 3_600_000 },
    ignoreCommitted: true,
    pollMs: options.pollMs,
    onError: (e) => options.logger.warn({ err: e }, 'accuracy projection: a batch failed; retrying'),
  });
  return {
    join,
    subscription,
    summary: () => join.summary(),
    comparison: (champion, challenger) =>
      join.shadowComparison(champion, challenger) ??
      liveComparison(join.summary().by_model_version, champion, challenger),
    close: () => subscription.close(),
  };
}

const METRIC_NAMES = [
  'etaserve_online_deliveries_total',
  'etaserve_online_mae_seconds',
  'etaserve_online_bias_seconds',
  'etaserve_online_coverage_ratio',
  'etaserve_online_on_time_ratio',
  'etaserve_online_shadow_deliveries_total',
  'etaserve_online_shadow_mae_seconds',
  'etaserve_online_shadow_bias_seconds',
  'etaserve_online_shadow_coverage_ratio',
];
