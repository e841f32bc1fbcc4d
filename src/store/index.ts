export {
  decodeCursor,
  encodeCursor,
  listAllStores,
  type ListOptions,
  type PutResult,
  type StoreCatalog,
  type StorePage,
  type UpsertManyResult,
} from './catalog.js';
export { StoreClient } from './client.js';
export { storeConfigSchema, type StoreConfig } from './config.js';
export { LiveState, type LiveStateOptions } from './live-state.js';
export {
  postgresRunner,
  runMigrations,
  sqliteRunner,
  STORE_MIGRATIONS,
  type Migration,
  type SqlRunner,
} from './migrations.js';
export { applyToLiveState, startLiveProjection, type LiveProjectionOptions } from './live-projection.js';
export {
  FeatureCache,
  invalidateOnWrite,
  type StoreFeaturesWithStatus,
  type StoreStaleness,
} from './feature-cache.js';
export { storeModule, type StoreProvides } from './module.js';
export { createStoreModule, type StoreEvents, type StoreModule } from './module.js';
export { openStoreCatalog, sqliteFileOf } from './open.js';
// The API's JSON shape of a store, for files the CLI writes (simulate's stores.jsonl).
export { toNewStoreJson } from './json.js';
export { formatWithOffset, isOpen, nextOpening, nextOpeningMs } from './opening-hours.js';
export { openPostgresCatalog, PostgresCatalog, type PostgresCatalogOptions } from './postgres-catalog.js';
export {
  STORE_INTERNAL_PREFIX,
  storeCatalogRoutes,
  storeInternalRoutes,
  type StoreCatalogRoutesOptions,
  type StoreRoutes,
} from './routes.js';
export { featureRecord, StoreService } from './service.js';
export {
  detectStoreFileFormat,
  readStoreFile,
  STORE_CSV_COLUMNS,
  type StoreFileFormat,
  type StoreFileRow,
} from './store-file.js';
export { openSqliteCatalog, SqliteCatalog, type SqliteCatalogOptions } from './sqlite-catalog.js';
export {
  WEEKDAYS,
  type NewStore,
  type OpeningHours,
  type PrepProfile,
  type Store,
  type StoreFeatureRecord,
  type StoreFeatures,
  type StoreLiveSnapshot,
  type StoreLiveSource,
  type StoreLiveState,
  type Weekday,
} from './types.js';
export { parseStore, parseStorePatch, validateStore, type FieldIssue, type StorePatch } from './validate.js';
export { storeNotFound } from './errors.js';
