import type { ApiKeyRecord } from './api-keys.js';

export type MaybePromise<T> = T | Promise<T>;

/**
 * Where the API keys (hashes) are kept, under ApiKeyStore's in-memory index: the data directory's file (one
 * machine) or the deployment's PostgreSQL (every gateway of a fleet). The store verifies keys against its index only,
 * so a request never waits on this.
 */
export interface KeyBackend {
  readonly kind: 'file' | 'postgres';
  /**
   * A synchronous backend (the file) is looked at from `authenticate` itself, at most every KEY_REFRESH_MS; an
   * asynchronous one (a database) is polled in the background by `ApiKeyStore.startRefresh`.
   */
  readonly sync: boolean;
  /** Every record when they changed since the last read; `unchanged`; `missing` when nothing was ever stored. */
  read(): MaybePromise<ApiKeyRecord[] | 'unchanged' | 'missing'>;
  /**
   * Stores `changed` (new records, or existing ones with a new expiry or revocation), atomically; `all` is the whole
   * index after the change, for a backend that rewrites everything (the file).
   */
  write(changed: ApiKeyRecord[], all: ApiKeyRecord[]): MaybePromise<void>;
  /**
   * Stores the first admin key if no first key was ever stored: true when this call stored it, so that of several
   * gateways starting together exactly one prints a key.
   */
  bootstrap(record: ApiKeyRecord): MaybePromise<boolean>;
  close(): MaybePromise<void>;
}
