import { EtaError } from '../platform/index.js';

/**
 * The store's errors are platform `EtaError`s with the store's codes; these builders keep the messages and fields
 * the same wherever the catalog is implemented (SQLite, PostgreSQL or the HTTP client).
 */
export const storeNotFound = (storeId: string): EtaError =>
  new EtaError('store_not_found', `store ${JSON.stringify(storeId)} does not exist`, { field: 'store_id' });

export const storeExists = (storeId: string): EtaError =>
  new EtaError('store_exists', `store ${JSON.stringify(storeId)} already exists`, { field: 'store_id' });

export const badField = (field: string, message: string): EtaError =>
  new EtaError('bad_request', `${field}: ${message}`, { field });

/** 503 with a Retry-After: the caller may try again, nothing was written. */
export const databaseUnavailable = (what: string, cause: unknown): EtaError =>
  new EtaError(
    'database_unavailable',
    `store database is unavailable (${what}): ${(cause as Error)?.message ?? cause}`,
    {
      cause,
      retryAfter: 1,
    },
  );
