import { Type, type Static } from 'typebox';

/** The promotion policy: a challenger replaces the champion only when these hold, and every decision is logged. */
export const policyConfigSchema = Type.Object(
  {
    minImprovement: Type.Number({
      default: 0.02,
      minimum: 0,
      maximum: 1,
      description:
        'Share by which the new model’s hold-out MAE must beat the champion’s on the same rows (0.02 = 2%)',
    }),
    maxShadowMaeRatio: Type.Number({
      default: 1,
      minimum: 0,
      description:
        'When shadow results exist, the challenger’s shadow MAE over the champion’s must be at most this',
    }),
    minShadowSamples: Type.Integer({
      default: 100,
      minimum: 0,
      description:
        'Shadow comparisons needed before the shadow rule applies (below it, it is skipped and said so)',
    }),
    maxCoverageDrop: Type.Number({
      default: 0.05,
      minimum: 0,
      maximum: 1,
      description: 'The p10–p90 coverage may fall at most this much below the champion’s',
    }),
    autoPromote: Type.Boolean({
      default: true,
      description:
        'Promote when the policy passes; false registers the model as challenger for a person to promote',
    }),
  },
  { default: {} },
);

/** The `pipeline` section. */
export const pipelineConfigSchema = Type.Object(
  {
    port: Type.Integer({
      default: 8093,
      minimum: 0,
      maximum: 65535,
      description: 'Port of the pipeline process when it runs alone',
    }),
    trees: Type.Integer({
      default: 300,
      minimum: 1,
      maximum: 10_000,
      description: 'Upper bound on boosting rounds per quantile (early stopping usually ends sooner)',
    }),
    orderLegs: Type.Boolean({
      default: true,
      description:
        "Train the order-leg models (prep, pickup, ride) with each version, for live ETAs through the order's life (docs/orders.md)",
    }),
    trainShare: Type.Number({
      default: 0.7,
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      description: 'Oldest share of orders to train on',
    }),
    validShare: Type.Number({
      default: 0.15,
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      description:
        'Next share, for early stopping and range calibration; the newest rest is the test hold-out',
    }),
    schedule: Type.String({
      default: '*/5 * * * *',
      description:
        'Cron expression (minute hour day-of-month month day-of-week, UTC) of continuous training; empty disables it. Production: daily, e.g. "30 3 * * *"',
    }),
    firstRunDelayMs: Type.Integer({
      default: 300_000,
      minimum: 0,
      description:
        'After a start, the schedule’s first run waits at least this long (the first model was just trained)',
    }),
    windowDays: Type.Integer({
      default: 14,
      minimum: 1,
      maximum: 365,
      description: 'Days of orders each scheduled run trains and evaluates on',
    }),
    source: Type.Union([Type.Literal('auto'), Type.Literal('lake'), Type.Literal('simulated')], {
      default: 'auto',
      description:
        'Where training data comes from. lake: the Parquet lake only; a run with fewer than minLakeOrders fails with the counts, and a deployment without a champion serves fallback ETAs (degraded) until its first lake model. simulated (the demo): with no champion, the first model trains on the simulated city. auto: simulated when platform.host is loopback (etaserve start, etaserve up), lake anywhere else (the image binds 0.0.0.0)',
    }),
    minLakeOrders: Type.Integer({
      default: 2000,
      minimum: 50,
      description:
        'Delivered orders (created in the window) the lake must hold for a run to train. Below it: with source lake the run fails with the counts; with source simulated it is skipped, or with no champion at all the first model trains on simulated history (the demo)',
    }),
    compactBatch: Type.Integer({
      default: 50_000,
      minimum: 100,
      maximum: 10_000_000,
      description: 'Events per Parquet write when compacting the event log',
    }),
    lakeWriteIntervalMs: Type.Integer({
      default: 5000,
      minimum: 0,
      maximum: 3_600_000,
      description:
        'The pipeline process’s lake writer compacts what is new in the event log into the lake, and applies the forget journal, this often; one process of the deployment writes (a lease in the log). 0: no continuous writer; each scheduled run and `etaserve train --from/--to` compacts instead',
    }),
    lakeRetentionDays: Type.Integer({
      default: 90,
      minimum: 1,
      maximum: 3650,
      description:
        'The lake writer deletes whole date partitions of the lake older than this many days (UTC). At least windowDays + 8: a run reads a week before its window and a day after it',
    }),
    keepVersions: Type.Integer({
      default: 10,
      minimum: 0,
      maximum: 10_000,
      description:
        'Retention: registered versions kept besides the champion, the challenger and the previous champions; older ones are deleted with their artifacts after each training run',
    }),
    keepPreviousChampions: Type.Integer({
      default: 3,
      minimum: 0,
      maximum: 1000,
      description: 'Retention: previous champions kept so that rollback can reach them',
    }),
    policy: policyConfigSchema,
  },
  { default: {} },
);

export type PipelineConfig = Static<typeof pipelineConfigSchema>;

/** Days a training run reads around its window: a week of warm-up before it (sources.ts) and a day after. */
export const LAKE_DAYS_AROUND_WINDOW = 8;

/**
 * Checks between keys of the section: the lake must keep everything a scheduled run reads, or retention would
 * delete a run's warm-up (and the promotion's comparison on the same window) before it trains. Answers the problem,
 * or undefined.
 */
export function pipelineConfigProblem(config: PipelineConfig): string | undefined {
  const least = config.windowDays + LAKE_DAYS_AROUND_WINDOW;
  if (config.lakeRetentionDays < least)
    return `pipeline.lakeRetentionDays = ${config.lakeRetentionDays} is invalid: expected at least pipeline.windowDays (${config.windowDays}) + ${LAKE_DAYS_AROUND_WINDOW} = ${least}, the days a training run reads from the lake`;
  return undefined;
}

/** Where a process's training data comes from, once `auto` is settled. */
export type PipelineSource = 'lake' | 'simulated';

/**
 * `auto` settles on the deployment's shape: only a process bound to loopback (a demo on one machine) may make its
 * first model from the simulated city; anything reachable from elsewhere is production and trains on the lake.
 */
export function resolvePipelineSource(
  source: PipelineConfig['source'],
  loopbackHost: boolean,
): PipelineSource {
  return source === 'auto' ? (loopbackHost ? 'simulated' : 'lake') : source;
}
export type PolicyConfig = Static<typeof policyConfigSchema>;
