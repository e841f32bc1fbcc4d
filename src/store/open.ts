import { deploymentSqliteFile, type Logger, type PlatformConfig } from '../platform/index.js';
import type { StoreCatalog } from './catalog.js';
import type { StoreConfig } from './config.js';
import { openPostgresCatalog } from './postgres-catalog.js';
import { openSqliteCatalog } from './sqlite-catalog.js';

/** `sqlitePath`, or `etaserve.db` in the data directory. */
export function sqliteFileOf(config: StoreConfig, platform: Pick<PlatformConfig, 'dataDir'>): string {
  return deploymentSqliteFile(config.sqlitePath, platform.dataDir);
}

/**
 * The configured catalog, open and migrated: what the module starts, and what the CLI uses directly. Throws a
 * startup error for a missing PostgreSQL URL; `database_unavailable` when the database does not answer.
 */
export async function openStoreCatalog(
  config: StoreConfig,
  platform: Pick<PlatformConfig, 'dataDir'>,
  logger?: Logger,
): Promise<StoreCatalog> {
  if (config.database === 'postgres') {
    if (!config.postgresUrl)
      throw new Error(
        'store.database is postgres but store.postgresUrl (ETASERVE_STORE_POSTGRES_URL) is empty',
      );
    return openPostgresCatalog(config.postgresUrl, {
      maxPageSize: config.maxPageSize,
      poolSize: config.postgresPoolSize,
      queryTimeoutMs: config.queryTimeoutMs,
      logger,
    });
  }
  return openSqliteCatalog(sqliteFileOf(config, platform), {
    maxPageSize: config.maxPageSize,
    busyTimeoutMs: config.queryTimeoutMs,
  });
}
