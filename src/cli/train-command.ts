import { parseArgs } from 'node:util';
import { Value } from 'typebox/value';
import { geoConfigSchema, saveZoneSpeeds, speedsFileOf, type GeoConfig } from '../geo/index.js';
import {
  formatMetrics,
  pipelineConfigSchema,
  registerTrained,
  trainFromHistory,
  type PipelineConfig,
} from '../pipeline/index.js';
import { FileModelRegistry, registryDir } from '../registry/index.js';
import { generateHistory, simulatorConfigSchema, type SimulatorConfig } from '../simulator/index.js';
import { intFlag, type CommandOutput } from './simulate-command.js';

export interface TrainCommandDeps extends CommandOutput {
  /** The registry and the geo speeds file live under it. */
  dataDir: string;
}

const DAY = 86_400_000;

export const TRAIN_USAGE = `etaserve train [--days N] [--stores N] [--orders-per-day N] [--seed S] [--trees N]

Simulates a city's history, trains a p10/p50/p90 model on it (time-ordered train/valid/test split), evaluates it
on the test window and registers it. It becomes champion only when there is none; then the zone speeds it was
trained with are written for geo.`;

export async function runTrainCommand(args: string[], deps: TrainCommandDeps): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        days: { type: 'string' },
        stores: { type: 'string' },
        'orders-per-day': { type: 'string' },
        seed: { type: 'string' },
        trees: { type: 'string' },
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
  const defaults = Value.Default(simulatorConfigSchema, {}) as SimulatorConfig;
  const pipeline = Value.Default(pipelineConfigSchema, {}) as PipelineConfig;
  const days = intFlag(values.days, 'days', defaults.days, deps);
  const stores = intFlag(values.stores, 'stores', defaults.stores, deps);
  const ordersPerDay = intFlag(values['orders-per-day'], 'orders-per-day', defaults.ordersPerDay, deps);
  const seed = intFlag(values.seed, 'seed', defaults.seed, deps, 0);
  const trees = intFlag(values.trees, 'trees', pipeline.trees, deps);
  if (
    days === undefined ||
    stores === undefined ||
    ordersPerDay === undefined ||
    seed === undefined ||
    trees === undefined
  )
    return 2;

  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const history = generateHistory({
    seed,
    days,
    stores,
    ordersPerDay,
    startMs: Math.floor(Date.now() / DAY) * DAY - days * DAY,
  });
  deps.log(
    `[${elapsed()}] simulated ${history.orders.length} orders in ${stores} stores over ${days} days (seed ${seed})`,
  );
  let lastTree = -1;
  const trained = await trainFromHistory(history, {
    params: { nTrees: trees },
    split: { train: pipeline.trainShare, valid: pipeline.validShare },
    onProgress: (p) => {
      if (p.stage !== 'train') return deps.log(`[${elapsed()}] ${p.stage}: ${p.message}`);
      const b = p.boosting!;
      if (b.iteration % 50 !== 0 || b.iteration === lastTree) return;
      lastTree = b.iteration;
      deps.log(
        `[${elapsed()}] train ${b.output}: tree ${b.iteration}, valid loss ${b.validLoss?.toFixed(1) ?? '-'}, best ${b.bestIteration}`,
      );
    },
  });
  const registry = new FileModelRegistry(registryDir(deps.dataDir));
  const record = await registerTrained(registry, trained, `simulated:seed=${seed}:days=${days}`);
  if (record.aliases.includes('champion')) {
    const geo = Value.Default(geoConfigSchema, {}) as GeoConfig;
    await saveZoneSpeeds(speedsFileOf(deps.dataDir, geo.speedsFile), trained.speeds);
  }
  deps.log(
    `[${elapsed()}] registered ${record.version}${record.aliases.length ? ` (${record.aliases.join(', ')})` : ''}`,
  );
  deps.log(formatMetrics(trained.metrics));
  deps.log(JSON.stringify(trained.metrics));
  return 0;
}
