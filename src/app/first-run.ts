import { ensureChampion, resolvePipelineSource, type PipelineSource } from '../pipeline/index.js';
import {
  importFileRegistry,
  openModelRegistry,
  registryDir,
  type RegistryDatabase,
  type SqlModelRegistry,
} from '../registry/index.js';
import { openStoreCatalog, sqliteFileOf, type StoreCatalog } from '../store/index.js';
import type { AppConfig } from './config.js';
import { isLoopback } from './internal-auth.js';

interface Out {
  log: (line: string) => void;
}

export function openCatalogFromConfig(config: AppConfig): Promise<StoreCatalog> {
  return openStoreCatalog(config.store, config.platform);
}

/** The model registry lives in the catalog's database, so every process of a deployment sees the same one. */
export function registryDatabaseOf(config: AppConfig): RegistryDatabase {
  return config.store.database === 'postgres'
    ? { database: 'postgres', postgresUrl: config.store.postgresUrl }
    : { database: 'sqlite', sqliteFile: sqliteFileOf(config.store, config.platform) };
}

export function registryFromConfig(config: AppConfig): SqlModelRegistry {
  return openModelRegistry(registryDatabaseOf(config));
}

/** `pipeline.source` settled for this process: `auto` is the demo only on a loopback host (see docs/pipeline.md). */
export function pipelineSourceOf(config: AppConfig): PipelineSource {
  return resolvePipelineSource(config.pipeline.source, isLoopback(config.platform.host));
}

/**
 * A newcomer's first start needs nothing downloaded: without a champion, a city's history is simulated and a model
 * trained and registered; an empty store catalog is seeded with the same simulated city's stores. That is the demo
 * (pipeline source simulated). With the lake source nothing is simulated: without a champion the gateway serves
 * fallback ETAs (degraded) until the first model trained on the lake is promoted, and the stores come from
 * `etaserve stores import`.
 */
export async function prepareFirstRun(
  config: AppConfig,
  what: { trainModel: boolean; seedStores: boolean },
  out: Out,
): Promise<void> {
  let stores;
  const source = pipelineSourceOf(config);
  if (what.trainModel) {
    const started = Date.now();
    const registry = registryFromConfig(config);
    const imported = await importFileRegistry(registryDir(config.platform.dataDir), registry);
    if (imported > 0) out.log(`imported ${imported} model versions from the file registry into the database`);
    if (source === 'lake') {
      const champion = await registry.resolve('champion').finally(() => registry.close());
      if (!champion)
        out.log(
          'no champion model yet and pipeline.source is lake: nothing is simulated; fallback ETAs (degraded) serve until the first model trained on the lake is promoted',
        );
      return;
    }
    const result = await ensureChampion({
      dataDir: config.platform.dataDir,
      registry,
      log: out.log,
      simulator: config.simulator,
      geo: config.geo,
      pipeline: config.pipeline,
    }).finally(() => registry.close());
    if (result.trained)
      out.log(
        `model ${result.record.version} trained and promoted to champion in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    stores = result.stores;
  }
  // A made-up city's stores in a real catalog would also enter the lake models' domain.
  if (!what.seedStores || config.topology.storeUrl || source === 'lake') return;
  const catalog = await openCatalogFromConfig(config);
  try {
    if ((await catalog.count()) > 0) return;
    stores ??= (await import('../simulator/index.js')).buildCity({
      seed: config.simulator.seed,
      stores: config.simulator.stores,
    }).stores;
    const result = await catalog.upsertMany(stores);
    out.log(`store catalog was empty: seeded ${result.created} stores of the simulated city`);
  } finally {
    await catalog.close();
  }
}
