import { mkdir, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Value } from 'typebox/value';
import { geoConfigSchema, speedsFileOf, type GeoConfig } from '../../geo/index.js';
import type { TrainParams } from '../../model/index.js';
import { pipelineConfigSchema, type PipelineConfig } from '../config.js';
import type { ModelRecord, ModelRegistry } from '../../registry/index.js';
import {
  buildCity,
  generateHistory,
  simulatorConfigSchema,
  type SimulatorConfig,
} from '../../simulator/index.js';
import type { NewStore } from '../../store/index.js';
import { runTraining } from './run.js';
import { formatMetrics } from './train-model.js';

const DAY = 86_400_000;
const LOCK_STALE_MS = 10 * 60_000;

export interface EnsureChampionOptions {
  dataDir: string;
  registry: ModelRegistry;
  log: (message: string) => void;
  /** The simulated city (seed, stores, days, ordersPerDay); defaults are the simulator section's. */
  simulator?: Partial<SimulatorConfig>;
  /** Geo settings; `speedsFile` decides where the learned speeds go. */
  geo?: Partial<GeoConfig>;
  /** Trees and split shares; defaults are the pipeline section's. */
  pipeline?: Partial<PipelineConfig>;
  /** Overrides of the boosting parameters, beyond `pipeline.trees`. */
  params?: Partial<TrainParams>;
  now?: number;
}

export interface EnsureChampionResult {
  record: ModelRecord;
  /** False when a champion existed and nothing was trained. */
  trained: boolean;
  /** The simulated city's catalog, to seed an empty store catalog; the same for a seed on every start. */
  stores: NewStore[];
  /** Where the zone speeds the champion was trained with were written (when trained). */
  speedsFile: string;
}

/**
 * The first start of the embedded default: without a champion there is nothing to serve, so simulate history,
 * train, register and promote, and write the zone speeds the features were computed with for geo to serve.
 * With a champion it only returns it. Processes sharing the data directory train once: the others wait.
 */
export async function ensureChampion(options: EnsureChampionOptions): Promise<EnsureChampionResult> {
  const sim = Value.Default(simulatorConfigSchema, { ...options.simulator }) as SimulatorConfig;
  const geo = Value.Default(geoConfigSchema, { ...options.geo }) as GeoConfig;
  const pipeline = Value.Default(pipelineConfigSchema, { ...options.pipeline }) as PipelineConfig;
  const speedsFile = speedsFileOf(options.dataDir, geo.speedsFile);
  const stores = (): NewStore[] => buildCity({ seed: sim.seed, stores: sim.stores }).stores;
  const existing = await currentChampion(options.registry);
  if (existing) {
    if (
      !(await stat(speedsFile).then(
        () => true,
        () => false,
      ))
    ) {
      options.log(
        `the champion ${existing.version} exists but ${speedsFile} does not: geo serves default speeds`,
      );
    }
    return { record: existing, trained: false, stores: stores(), speedsFile };
  }

  const lock = path.join(options.dataDir, 'registry', '.first-training.lock');
  if (!(await tryLock(lock))) {
    options.log('another process is training the first model: waiting for it');
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const champion = await currentChampion(options.registry);
      if (champion) return { record: champion, trained: false, stores: stores(), speedsFile };
      if (await tryLock(lock)) break;
    }
  }
  try {
    const again = await currentChampion(options.registry);
    if (again) return { record: again, trained: false, stores: stores(), speedsFile };
    const started = Date.now();
    options.log(
      `no champion model: simulating ${sim.days} days of ${sim.ordersPerDay} orders in ${sim.stores} stores (seed ${sim.seed})`,
    );
    const now = options.now ?? Date.now();
    const history = generateHistory({
      seed: sim.seed,
      stores: sim.stores,
      days: sim.days,
      ordersPerDay: sim.ordersPerDay,
      startMs: Math.floor(now / DAY) * DAY - sim.days * DAY,
    });
    options.log(
      `simulated ${history.orders.length} orders in ${((Date.now() - started) / 1000).toFixed(1)} s: training`,
    );
    // A run like any other: the first model gets a report too, and becomes champion because there is none.
    const run = await runTraining(
      { history, describe: `simulated:seed=${sim.seed}` },
      {
        registry: options.registry,
        dataDir: options.dataDir,
        pipeline,
        geo,
        ...(options.params ? { params: options.params } : {}),
        log: options.log,
        promotion: 'policy',
      },
    );
    const record = run.record;
    options.log(
      `registered ${record.version} as ${record.aliases.join(', ') || 'no alias'} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${formatMetrics(record.metrics)}`,
    );
    return { record, trained: true, stores: history.stores, speedsFile };
  } finally {
    await rm(lock, { force: true });
  }
}

async function currentChampion(registry: ModelRegistry): Promise<ModelRecord | undefined> {
  const version = await registry.resolve('champion');
  return version === undefined ? undefined : registry.get(version);
}

async function tryLock(file: string): Promise<boolean> {
  await mkdir(path.dirname(file), { recursive: true });
  try {
    await (await open(file, 'wx')).close();
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // A process that died mid-training leaves its lock behind.
    const age = await stat(file).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > LOCK_STALE_MS) await rm(file, { force: true });
    return false;
  }
}
