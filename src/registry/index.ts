import path from 'node:path';

export { championStack, promote, rollback, setChallenger } from './actions.js';
export { InMemoryModelRegistry } from './memory-registry.js';
export { importFileRegistry } from './legacy.js';
export { REGISTRY_MIGRATIONS } from './migrations.js';
export { histogramBin, hourOfWeek, HOURS_OF_WEEK, populationStability } from './profile.js';
export {
  restoreOnlineRanges,
  segmentedRangesOf,
  type OnlineRangesState,
  type PendingQuote,
  type Publication,
} from './online-ranges.js';
export {
  openDeploymentDatabase,
  openModelRegistry,
  registryDatabaseOf,
  type DatabaseConnection,
  type DeploymentDatabase,
  type RegistryDatabase,
} from './open.js';
export { registryModule, type RegistryProvides } from './module.js';
export { SqlModelRegistry } from './sql-registry.js';
export {
  MODEL_ALIASES,
  type AliasChange,
  type AuditAction,
  type AuditEntry,
  type EvaluationSet,
  type ModelDomain,
  type FeatureHistogram,
  type FeatureProfile,
  type HourOfWeekProfile,
  type GoldenSet,
  type ModelAlias,
  type ModelRecord,
  type ModelRegistry,
  type OnlineRangeCheckpoint,
  type RegisterMeta,
} from './types.js';

/** Where processes sharing a data directory keep registry lock files (first training): `<dataDir>/registry`. */
export function registryDir(dataDir: string): string {
  return path.join(dataDir, 'registry');
}
