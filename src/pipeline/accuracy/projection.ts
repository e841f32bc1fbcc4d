import { followForgets, type EventLog, type Subscription } from '../../events/index.js';
import { Counter, Gauge, type Logger, type Registry } from '../../platform/index.js';
import { liveComparison, type ShadowSummary } from '../promotion/policy.js';
import { AccuracyJoin, type AccuracyStats, type AccuracySummary } from './join.js';
import type { ShadowStats } from './shadow.js';
import { OnlineRangesFeeder, type OnlineRangesFeederOptions, type SegmentCoverage } from './online-ranges.js';
import { ZonePrepMonitor, zoneMessage, type ZoneAlarm } from './zone-drift.js';

export interface AccuracyProjectionOptions {
  windowMinutes: number;
  /** How much of the log the join replays at start: it lives in memory. */
  replayHours: number;
  pollMs: number;
  logger: Logger;
  registry: Registry;
  /**
   * Zones of stores (the catalog's locations, `storeZone`): with it, the per-zone prep-shift check runs on its own
   * replay of the log (a day of lag plus a week of baseline; zone-drift.ts).
   */
  zoneOfStores?: (storeIds: string[]) => Promise<Map<string, string>>;
  /**
   * With it, the join also feeds the per-segment online ranges the predictors serve (online-ranges.ts) and saves
   * them to the registry (the lease holder of the deployment's gateways).
   */
  onlineRanges?: Pick<OnlineRangesFeederOptions, 'registry' | 'stores' | 'holder' | 'saveIntervalMs'>;
}

/**
 * What the Accuracy view reads: the join's summary, the zones whose kitchens changed, and the coverage of the
 * served ranges per segment (zone, daypart) from their online states.
 */
export type AccuracyReport = AccuracySummary & { zone_alarms: ZoneAlarm[]; by_segment: SegmentCoverage[] };

export interface AccuracyProjection {
  join: AccuracyJoin;
  subscription: Subscription;
  onlineRanges: OnlineRangesFeeder | undefined;
  summary(): AccuracyReport;
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

  const zones = options.zoneOfStores ? startZonePrep(log, options, options.zoneOfStores) : undefined;

  // The replay starts once the forget journal is followed: a forget during it is in the log the replay reads or
  // delivered to the follower afterwards.
  const replayFrom = Date.now() - options.replayHours * 3_600_000;
  const onlineRanges = options.onlineRanges
    ? new OnlineRangesFeeder({
        ...options.onlineRanges,
        log,
        replayHours: options.replayHours,
        pollMs: options.pollMs,
        logger: options.logger,
      })
    : undefined;
  const forgets = followForgets(
    log.forgets,
    (entries) => {
      const orderIds = entries.flatMap((e) => e.orderIds);
      join.forgetOrders(orderIds);
      onlineRanges?.forgetOrders(orderIds);
    },
    {
      pollMs: options.pollMs,
      onError: (e) => options.logger.warn({ err: e }, 'accuracy projection: forget journal read failed'),
    },
  );
  const feeding = forgets.then(() => onlineRanges?.start());
  feeding.catch((e: unknown) =>
    options.logger.error({ err: e }, 'online ranges: not fed (the predictors serve the static ones)'),
  );
  const started = forgets.then(() =>
    log.subscribe('accuracy', (records) => join.apply(records), {
      start: { sinceMs: replayFrom },
      ignoreCommitted: true,
      pollMs: options.pollMs,
      onError: (e) => options.logger.warn({ err: e }, 'accuracy projection: a batch failed; retrying'),
    }),
  );
  const subscription: Subscription = {
    group: 'accuracy',
    caughtUp: async () => {
      await (await started).caughtUp();
      await feeding.then(() => onlineRanges?.caughtUp()).catch(() => undefined);
    },
    close: async () => (await started).close(),
  };
  return {
    join,
    subscription,
    onlineRanges,
    summary: () => ({
      ...join.summary(),
      zone_alarms: zones?.monitor.check.alarms() ?? [],
      by_segment: onlineRanges?.summary() ?? [],
    }),
    comparison: (champion, challenger) =>
      join.shadowComparison(champion, challenger) ??
      liveComparison(join.summary().by_model_version, champion, challenger),
    close: async () => {
      await subscription.close();
      await feeding.catch(() => undefined);
      await onlineRanges?.close();
      await zones?.subscription.close();
      await (await forgets).close();
    },
  };
}

const ZONE_LAG_MS = 86_400_000;
const ZONE_BASELINE_MS = 7 * 86_400_000;

/** The per-zone prep-shift check: a gauge per zone, and a log line when a zone's alarm is raised or cleared. */
function startZonePrep(
  log: EventLog,
  options: AccuracyProjectionOptions,
  resolveZones: (storeIds: string[]) => Promise<Map<string, string>>,
): { monitor: ZonePrepMonitor; subscription: Subscription } {
  const monitor = new ZonePrepMonitor({
    resolveZones,
    lagMs: ZONE_LAG_MS,
    baselineMs: ZONE_BASELINE_MS,
    onError: (e) => options.logger.warn({ err: e }, 'zone prep check: store zones unavailable; retrying'),
  });
  monitor.check.onChange(({ zone, alarm, entry }) => {
    if (alarm) options.logger.warn({ ...entry }, `prep shift: ${zoneMessage(entry)}`);
    else options.logger.info({ ...entry }, `prep shift cleared in zone ${zone}`);
  });
  new Gauge({
    name: 'etaserve_zone_prep_shift',
    help: 'Per zone (H3 res 7 of the store): 1 while the mean prep time of its last 30 orders is beyond what its own last week allows, else 0',
    labelNames: ['zone'],
    registers: [options.registry],
    collect() {
      this.reset();
      for (const [zone, v] of monitor.check.states()) this.set({ zone }, v);
    },
  });
  const subscription = log.subscribe('zone-prep', (records) => monitor.apply(records), {
    // Half a day more than lag + baseline: a zone is judged once its baseline spans the week.
    start: { sinceMs: Date.now() - ZONE_LAG_MS - ZONE_BASELINE_MS - 12 * 3_600_000 },
    ignoreCommitted: true,
    pollMs: options.pollMs,
    onError: (e) => options.logger.warn({ err: e }, 'zone prep check: a batch failed; retrying'),
  });
  return { monitor, subscription };
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
  'etaserve_zone_prep_shift',
];
