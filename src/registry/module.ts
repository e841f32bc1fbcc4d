import { defineModule } from '../platform/index.js';
import {
  openModelRegistry,
  registryDatabaseOf,
  type DeploymentDatabase,
  type RegistryDatabase,
} from './open.js';
import type { SqlModelRegistry } from './sql-registry.js';

export interface RegistryProvides {
  registry: SqlModelRegistry;
  /** Where it is, for threads and child processes that open their own connection (the model loader, training). */
  database: RegistryDatabase;
}

declare module '../platform/module-definition.js' {
  interface ModuleProvides {
    registry: RegistryProvides;
  }
}

/** The model registry: versions, aliases, profiles, zone speeds and online ranges, shared by every process. */
export const registryModule = defineModule<{ store: DeploymentDatabase }, RegistryProvides>({
  name: 'registry',
  description: 'model versions and aliases, in the catalog database every process shares',
  needs: [],
  init({ config, ctx }) {
    const database = registryDatabaseOf(config.store, ctx.platform.dataDir);
    const registry = openModelRegistry(database);
    return {
      provides: { registry, database },
      services: [{ name: 'registry', stop: () => registry.close() }],
    };
  },
});
