import path from 'node:path';
import type { AppConfig } from '../app/index.js';
import { Value } from 'typebox/value';
import type { GeoConfig } from '../geo/index.js';
import {
  compactEventLog,
  csvData,
  describeComparison,
  formatMetrics,
  lakeDirOf,
  lakeOnlyData,
  LakeTooSmallError,
  parquetData,
  pipelineConfigSchema,
  readMapping,
  runTraining,
  simulatedData,
  type EventSource,
  type OrderHistory,
  type PipelineConfig,
  type TrainingData,
} from '../pipeline/index.js';
import { openModelRegistry, type ModelRegistry } from '../registry/index.js';
import { simulatorConfigSchema, type SimulatorConfig } from '../simulator/index.js';
import { listAllStores } from '../store/index.js';
import { intFlag, type CommandOutput } from './simulate-command.js';

export interface TrainCommandDeps extends CommandOutput {
  /** Reports, the lake and the geo speeds file live under it. */
  dataDir: string;
  /** The configured registry; default: SQLite in the data directory. */
  openRegistry?: () => ModelRegistry;
  /** The store catalog's stores, for event and Parquet data (the events carry store ids only). */
  loadStores?: () => Promise<OrderHistory['stores']>;
  /** The configured event log, for --from/--to. */
  openEventLog?: () => Promise<EventSource & { close(): Promise<void> }>;
  /** `source` settled from the config (`auto` given unresolved is the demo's simulated default). */
  pipeline?: Partial<PipelineConfig>;
  geo?: Partial<GeoConfig>;
  /** The time a lake window ends at; the wall clock by default. */
  now?: () => number;
}

export const TRAIN_USAGE = `etaserve train [SOURCE] [--trees N] [--no-promote] [--json]

Trains a p10/p50/p90 model (time-ordered train/valid/test split), scores it and the champion on the same hold-out,
applies the promotion policy, registers it, and writes a report (JSON and HTML) under <dataDir>/reports/<run-id>/.

Sources (default: pipeline.source; auto is simulated history on a loopback host, the lake anywhere else):
  --lake                    the lake (<dataDir>/lake) as it is, the last pipeline.windowDays (or --from/--to);
                            fails (exit 1) with the counts when it holds fewer than pipeline.minLakeOrders
                            delivered orders, and never simulates instead
  --from T --to T           the event log in a window (ISO 8601): compacted into <dataDir>/lake, then the SQL ETL
  --parquet DIR             Parquet files with the lake's event columns (a lake directory or any folder of them)
  --csv FILE --mapping M    a CSV (or .csv.gz) read through a column mapping (see examples/mappings/)
  --days N --stores N --orders-per-day N --seed S   the simulated city (defaults: the simulator section)

Options:
  --trees N       boosting rounds per quantile (default: pipeline.trees)
  --no-promote    register as challenger even when the policy would promote (the first model is always champion)
  --json          end with the run's result as JSON (for scripts) instead of the summary`;

const DAY = 86_400_000;

export async function runTrainCommand(args: string[], deps: TrainCommandDeps): Promise<number> {
  let values;
  try {
    ({ values } = (await import('node:util')).parseArgs({
      args,
      options: {
        days: { type: 'string' },
        stores: { type: 'string' },
        'orders-per-day': { type: 'string' },
        seed: { type: 'string' },
        trees: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        parquet: { type: 'string' },
        lake: { type: 'boolean' },
        csv: { type: 'string' },
        mapping: { type: 'string' },
        'no-promote': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    deps.error(`${(e as Error).message}\n\n${TRAIN_USAGE}`);
    return 2;
  }
  if (values.help) {
    deps.log(TRAIN_USAGE);
    return 0;
  }
  const pipeline = Value.Default(pipelineConfigSchema, { ...deps.pipeline }) as PipelineConfig;
  const trees = intFlag(values.trees, 'trees', pipeline.trees, deps);
  if (trees === undefined) return 2;
  if ((values.csv === undefined) !== (values.mapping === undefined)) {
    deps.error(`--csv and --mapping go together\n\n${TRAIN_USAGE}`);
    return 2;
  }
  const window = parseWindow(values.from, values.to, deps);
  if (window === null) return 2;
  const simFlags = [values.days, values.stores, values['orders-per-day'], values.seed].some(
    (v) => v !== undefined,
  );
  const explicit =
    values.csv !== undefined || values.parquet !== undefined || window !== undefined || simFlags;
  if (values.lake && (values.csv !== undefined || values.parquet !== undefined || simFlags)) {
    deps.error(`--lake reads the lake only: it takes no other source\n\n${TRAIN_USAGE}`);
    return 2;
  }
  // The lake when asked, or when the configuration says so and no source was named: production never simulates.
  const fromLake = values.lake === true || (!explicit && pipeline.source === 'lake');

  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const log = (line: string): void => deps.log(`[${elapsed()}] ${line}`);
  let data: TrainingData;
  if (fromLake) {
    const stores = (await deps.loadStores?.()) ?? [];
    if (stores.length === 0) {
      deps.error('training on the lake needs the store catalog: it is empty (etaserve stores import ...)');
      return 1;
    }
    const toMs = window?.toMs ?? (deps.now ?? Date.now)();
    const lakeWindow = window ?? { fromMs: toMs - pipeline.windowDays * DAY, toMs };
    try {
      data = await lakeOnlyData(lakeDirOf(deps.dataDir), stores, lakeWindow, pipeline.minLakeOrders);
    } catch (e) {
      if (!(e instanceof LakeTooSmallError)) throw e;
      deps.error(`${e.message}: nothing trained, nothing registered`);
      return 1;
    }
    log(`read ${data.history.orders.length} orders from ${data.describe}`);
  } else if (values.csv !== undefined) {
    const loaded = await csvData(values.csv, await readMapping(values.mapping!));
    log(
      `read ${loaded.history.orders.length} orders of ${loaded.history.stores.length} stores from ${values.csv} (${loaded.skipped} rows skipped)`,
    );
    data = loaded;
  } else if (values.parquet !== undefined || window) {
    const stores = (await deps.loadStores?.()) ?? [];
    if (stores.length === 0) {
      deps.error('training on events needs the store catalog: it is empty (etaserve stores import ...)');
      return 1;
    }
    let dir = values.parquet;
    if (dir === undefined) {
      dir = lakeDirOf(deps.dataDir);
      const source = await deps.openEventLog?.();
      if (source) {
        try {
          const c = await compactEventLog(source, dir, { batch: pipeline.compactBatch });
          log(
            c.writerElsewhere
              ? `the pipeline's lake writer keeps ${dir}: training on it as it is`
              : `compacted ${c.events} events from the log into ${dir}`,
          );
        } finally {
          await source.close();
        }
      }
    }
    data = await parquetData(path.resolve(dir), stores, window);
    log(`read ${data.history.orders.length} orders from ${data.describe}`);
  } else {
    const sim = Value.Default(simulatorConfigSchema, {}) as SimulatorConfig;
    const o = {
      days: intFlag(values.days, 'days', sim.days, deps),
      stores: intFlag(values.stores, 'stores', sim.stores, deps),
      ordersPerDay: intFlag(values['orders-per-day'], 'orders-per-day', sim.ordersPerDay, deps),
      seed: intFlag(values.seed, 'seed', sim.seed, deps, 0),
    };
    if (Object.values(o).some((v) => v === undefined)) return 2;
    data = simulatedData(o as Required<{ [K in keyof typeof o]: number }>);
    log(
      `simulated ${data.history.orders.length} orders in ${o.stores} stores over ${o.days} days (seed ${o.seed})`,
    );
  }

  const registry =
    deps.openRegistry?.() ??
    openModelRegistry({ database: 'sqlite', sqliteFile: path.join(deps.dataDir, 'etaserve.db') });
  try {
    const result = await runTraining(data, {
      registry,
      dataDir: deps.dataDir,
      pipeline: { ...pipeline, trees },
      geo: deps.geo,
      log,
      promotion: values['no-promote'] ? 'challenger' : 'policy',
      releasePings: true,
      actor: 'cli',
    });
    const r = result.record;
    if (values.json) {
      deps.log(
        JSON.stringify(
          {
            version: r.version,
            aliases: r.aliases,
            promoted: result.promoted,
            decision: result.decision.summary,
            comparison: result.comparison,
            metrics: r.metrics,
            rows: result.report.window.rows,
            deleted: result.deleted,
            report: result.reportFiles.html,
            // The kernel's high-water mark of this process's resident memory (maxRSS is in kB): what a benchmark
            // of a containerised run can read without access to the process from outside.
            peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    const w = result.report.window;
    const c = result.comparison;
    deps.log('');
    for (const line of summaryLines([
      ['version', `${r.version}${r.aliases.length ? ` (${r.aliases.join(', ')})` : ' (no alias)'}`],
      ['rows', `${w.rows} orders: ${w.train} train, ${w.valid} validation, ${w.test} hold-out`],
      ['MAE', `${minutes(r.metrics.mae_s)} (naive quote ${minutes(r.metrics.baseline_mae_s)})`],
      ['coverage', `${pct(r.metrics.coverage_p10_p90)} of hold-out orders inside p10–p90`],
      ['comparison', c.champion ? describeComparison(c) : 'no champion to compare with'],
      ['promoted', `${result.promoted ? 'yes' : 'no'}: ${result.decision.summary}`],
      ['details', formatMetrics(r.metrics)],
      ['report', result.reportFiles.html],
    ]))
      deps.log(line);
    return 0;
  } finally {
    await data.close?.();
    await registry.close();
  }
}

const minutes = (s: number | undefined): string => (s === undefined ? '-' : `${(s / 60).toFixed(1)} min`);
const pct = (v: number | undefined): string => (v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);

/** Label and value lines, labels padded to one width (the CLI's table printer is for rows, not a record). */
function summaryLines(pairs: Array<[string, string]>): string[] {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}

function parseWindow(
  from: string | undefined,
  to: string | undefined,
  deps: CommandOutput,
): { fromMs: number; toMs: number } | undefined | null {
  if (from === undefined && to === undefined) return undefined;
  const toMs = to === undefined ? Date.now() : Date.parse(to);
  const fromMs = from === undefined ? toMs - 14 * DAY : Date.parse(from);
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs >= toMs) {
    deps.error(
      `--from and --to must be ISO 8601 times with --from before --to (got ${from ?? '-'} .. ${to ?? '-'})`,
    );
    return null;
  }
  return { fromMs, toMs };
}

/** The train command's dependencies from the environment's configuration: registry, catalog and event log. */
export async function trainDepsFromConfig(
  config: AppConfig,
): Promise<Omit<TrainCommandDeps, 'log' | 'error'>> {
  const { openCatalogFromConfig, pipelineSourceOf, registryFromConfig } = await import('../app/index.js');
  return {
    dataDir: config.platform.dataDir,
    pipeline: { ...config.pipeline, source: pipelineSourceOf(config) },
    geo: config.geo,
    openRegistry: () => registryFromConfig(config),
    loadStores: async () => {
      const catalog = await openCatalogFromConfig(config);
      try {
        return await listAllStores(catalog);
      } finally {
        await catalog.close();
      }
    },
    openEventLog: async () => {
      const { openEventLog } = await import('../events/index.js');
      const log = openEventLog(config.events, config.platform.dataDir, {
        role: 'reader',
        fallbackRedisUrl: config.cache.redisUrl,
      });
      await log.open();
      return log;
    },
  };
}
