import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EventLog, EventsConfig } from '../events/index.js';
import type { GeoConfig } from '../geo/index.js';
import {
  Counter,
  defineModule,
  Gauge,
  isLoopback,
  type ModuleContext,
  type Service,
} from '../platform/index.js';
import type { SimulatorConfig } from '../simulator/index.js';
import type { StoreConfig } from '../store/index.js';
import { resolvePipelineSource, type PipelineConfig } from './config.js';
import { CronExpression } from './schedule/cron.js';
import { lakeDirOf } from './etl/lake.js';
import { LakeWriter } from './etl/lake-writer.js';
import type { ShadowSummary } from './promotion/policy.js';
import { scheduledRun, type ScheduledJobSpec, type ScheduledRunSummary } from './schedule/scheduled-run.js';

export interface PipelineModule {
  service: Service;
  /** Runs continuous training once now (the schedule's job); resolves when it is done. */
  runNow(): Promise<ScheduledRunSummary | undefined>;
  /** The continuous lake writer, when this process has the event log and pipeline.lakeWriteIntervalMs > 0. */
  lakeWriter: LakeWriter | undefined;
}

export interface PipelineModuleDeps {
  /** Everything but the time of the run. */
  job: Omit<ScheduledJobSpec, 'nowMs' | 'pipeline' | 'shadow'>;
  /** The shadow join's comparison of the current challenger, when the accuracy projection has one. */
  shadow?: () => Promise<ShadowSummary | undefined>;
  /** `process` (default where the compiled entry exists) keeps training off this process's event loop. */
  isolation?: 'process' | 'inline';
  /** The time a run trains up to; the wall clock by default. */
  now?: () => number;
  /** The event log, opened by this process: the lake writer compacts it continuously. */
  log?: EventLog;
}

const JOB_ENTRY = fileURLToPath(new URL('./schedule/job-entry.js', import.meta.url));

/**
 * The `pipeline` target: continuous training on a cron schedule (in-process timer; the work itself in a child
 * process). A run that is still going when the next is due makes that tick a no-op, and every outcome is logged
 * and counted.
 */
export function createPipelineModule(
  ctx: ModuleContext,
  config: PipelineConfig,
  deps: PipelineModuleDeps,
): PipelineModule {
  const logger = ctx.logger.child({ module: 'pipeline' });
  const cron = config.schedule ? CronExpression.parse(config.schedule) : undefined;
  const isolation = deps.isolation ?? (existsSync(JOB_ENTRY) ? 'process' : 'inline');
  const runs = new Counter({
    name: 'etaserve_pipeline_runs_total',
    help: 'Continuous-training runs by outcome (promoted, kept, failed, skipped: a run still going or too little in the lake)',
    labelNames: ['outcome'],
    registers: [ctx.metrics.registry],
  });
  const last = new Gauge({
    name: 'etaserve_pipeline_last_run_timestamp_seconds',
    help: 'When the last continuous-training run finished',
    registers: [ctx.metrics.registry],
  });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<ScheduledRunSummary | undefined> | undefined;
  let stopped = false;
  const lakeWriter =
    deps.log && config.lakeWriteIntervalMs > 0
      ? new LakeWriter({
          lake: lakeDirOf(deps.job.dataDir),
          log: deps.log,
          intervalMs: config.lakeWriteIntervalMs,
          batch: config.compactBatch,
          retentionDays: config.lakeRetentionDays,
          logger,
          registry: ctx.metrics.registry,
        })
      : undefined;

  const execute = async (): Promise<ScheduledRunSummary> => {
    // With a lake writer the run reads the lake as it is, after one more round (here or in the process that
    // writes); without one, the run compacts the log itself.
    await lakeWriter?.tick();
    const { events, ...job } = deps.job;
    const spec: ScheduledJobSpec = {
      ...job,
      ...(events && !lakeWriter ? { events } : {}),
      pipeline: config,
      nowMs: (deps.now ?? Date.now)(),
      ...(deps.shadow ? { shadow: await deps.shadow() } : {}),
    } as ScheduledJobSpec;
    const log = (line: string): void => logger.info(line);
    if (isolation === 'inline') return scheduledRun(spec, log);
    return new Promise((resolve, reject) => {
      const child = fork(JOB_ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let settled = false;
      child.on('message', (m: { log?: string; summary?: ScheduledRunSummary; error?: string }) => {
        if (m.log) log(m.log);
        if (m.summary) {
          settled = true;
          resolve(m.summary);
        }
        if (m.error) {
          settled = true;
          reject(new Error(m.error));
        }
      });
      child.on('exit', (code) => {
        if (!settled) reject(new Error(`training process exited with code ${code}`));
      });
      child.send(spec);
    });
  };

  const runNow = (): Promise<ScheduledRunSummary | undefined> => {
    if (running) {
      runs.inc({ outcome: 'skipped' });
      logger.warn('a training run is still going: this tick is skipped');
      return running;
    }
    const started = Date.now();
    running = execute()
      .then((summary) => {
        // A tick with too little in the lake trains nothing: counted as skipped, not as a kept champion.
        runs.inc({ outcome: summary.skipped ? 'skipped' : summary.promoted ? 'promoted' : 'kept' });
        logger.info(
          { ...summary, seconds: (Date.now() - started) / 1000 },
          summary.skipped
            ? `training run: ${summary.decision}`
            : `training run ${summary.runId}: ${summary.decision}`,
        );
        return summary;
      })
      .catch((e: unknown) => {
        runs.inc({ outcome: 'failed' });
        logger.error({ err: e }, 'training run failed; the champion keeps serving');
        return undefined;
      })
      .finally(() => {
        last.set(Date.now() / 1000);
        running = undefined;
      });
    return running;
  };

  const schedule = (from: number): void => {
    if (!cron || stopped) return;
    const at = cron.next(from);
    timer = setTimeout(
      () => {
        // One trainer per deployment: the replica that holds the lake-writer lease (the others stand by, as for the
        // lake). A deployment without a lake writer trains on every replica.
        if (lakeWriter && lakeWriter.status().role !== 'writer') {
          runs.inc({ outcome: 'skipped' });
          logger.info('another replica writes the lake and trains: this tick is skipped');
          schedule(Date.now());
          return;
        }
        void runNow().finally(() => schedule(Date.now()));
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
  };

  const service: Service = {
    name: 'pipeline',
    check: () => lakeWriter?.check() ?? { ready: true },
    start: async () => {
      if (lakeWriter) {
        lakeWriter.start();
        logger.info(
          { intervalMs: config.lakeWriteIntervalMs, retentionDays: config.lakeRetentionDays },
          'lake writer started',
        );
      }
      if (!cron) return logger.info('pipeline.schedule is empty: continuous training is off');
      // The first tick waits a full period, so a process that just started (and trained its first model) settles.
      schedule(Date.now() + config.firstRunDelayMs);
      logger.info({ schedule: config.schedule, isolation }, 'continuous training scheduled');
    },
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await lakeWriter?.stop();
    },
  };
  return { service, runNow, lakeWriter };
}

declare module '../platform/module-definition.js' {
  interface ModuleProvides {
    pipeline: PipelineModule;
  }
}

interface PipelineModuleConfig {
  pipeline: PipelineConfig;
  geo: GeoConfig;
  simulator: SimulatorConfig;
  store: StoreConfig;
  events: EventsConfig;
  cache: { redisUrl: string };
}

export const pipelineModule = defineModule<PipelineModuleConfig, PipelineModule>({
  name: 'pipeline',
  description: 'continuous training, the lake writer and the promotion policy',
  needs: ['events', 'registry'],
  uses: ['accuracy'],
  port: (config) => config.pipeline.port,
  init({ config, ctx, get, find }) {
    // `auto` settles here, from the host: a process reachable from elsewhere trains on the lake only.
    const source = resolvePipelineSource(config.pipeline.source, isLoopback(ctx.platform.host));
    const { registry, database } = get('registry');
    const accuracy = find('accuracy');
    const pipeline = createPipelineModule(
      ctx,
      { ...config.pipeline, source },
      {
        job: {
          dataDir: ctx.platform.dataDir,
          geo: config.geo,
          simulator: config.simulator,
          registry: database,
          store: config.store,
          events: { config: config.events, fallbackRedisUrl: config.cache.redisUrl },
        },
        log: get('events').log,
        // Champion and challenger on the same shadowed orders, else each on the orders it served (canary).
        ...(accuracy
          ? {
              shadow: async () =>
                accuracy.comparison(await registry.resolve('champion'), await registry.resolve('challenger')),
            }
          : {}),
      },
    );
    return { provides: pipeline, services: [pipeline.service] };
  },
});
