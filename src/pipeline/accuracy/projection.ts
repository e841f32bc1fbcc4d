import type { EventLog, Subscription } from '../../events/index.js';
import { Counter, Gauge, type Logger, type Registry } from '../../platform/index.js';
import { AccuracyJoin, type AccuracyStats, type AccuracySummary } from './join.js';

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
  close(): Promise<void>;
}

/**
 * Online accuracy as a projection of the log: consumes `order.created` and `order.delivered`, and exports the join's
 * windowed stats per model version as gauges (read when Prometheus scrapes), plus a counter of joined deliveries.
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

  const subscription = log.subscribe('accuracy', (records) => join.apply(records), {
    start: { sinceMs: Date.now() - options.replayHours * 3_600_000 },
    ignoreCommitted: true,
    pollMs: options.pollMs,
    onError: (e) => options.logger.warn({ err: e }, 'accuracy projection: a batch failed; retrying'),
  });
  return { join, subscription, summary: () => join.summary(), close: () => subscription.close() };
}

const METRIC_NAMES = [
  'etaserve_online_deliveries_total',
  'etaserve_online_mae_seconds',
  'etaserve_online_bias_seconds',
  'etaserve_online_coverage_ratio',
  'etaserve_online_on_time_ratio',
];
