import { Pool } from 'undici';
import { offsetKm } from '../features/index.js';
import type { Logger } from '../platform/index.js';
import { isOpen, listAllStores, type Store, type StoreCatalog } from '../store/index.js';
import { newDemoKey, type ApiKeyStore } from './api-keys.js';

/** In flight at once: enough to open the connections real traffic uses, to this process and from it. */
const CONCURRENCY = 16;
/** One warm-up request in this many is a store list page (`/v1/eta/batch`), the rest are checkouts. */
const BATCH_EVERY = 10;
const BATCH_STORES = 20;
/** A warm-up that cannot finish (a dependency that hangs) gives up here: the process then serves anyway. */
const MAX_MS = 20_000;
/** Stores the warm-up asks for: many, so the replicas' per-store caches hold most of what real traffic asks first. */
const STORES = 5000;
/** Its key's rate limit: above anything a warm-up sends, so it meets the limiter's path and not its refusal. */
const RATE_LIMIT_PER_SECOND = 1_000_000;

export interface WarmUpResult {
  requests: number;
  /** Answers other than 200: a closed store's refusal is a path too, but most should be 200. */
  refused: number;
  ms: number;
  /** It stopped at its deadline or on a signal rather than after its requests. */
  cut: boolean;
}

/**
 * The gateway's warm-up: `requests` real ETA requests over its own listener, through every layer real traffic
 * passes (HTTP, key, limits, schemas, response cache, the predictor replicas or the fallback), so the first real
 * requests find the code compiled and the connections to the replicas open. They use a key that exists only
 * meanwhile, with the predict scope, and run with no one waiting: the process is not ready yet.
 */
export async function warmUpGateway(opts: {
  origin: string;
  keys: ApiKeyStore;
  catalog: StoreCatalog;
  requests: number;
  signal: AbortSignal;
  logger: Logger;
}): Promise<WarmUpResult | undefined> {
  const { origin, keys, requests, signal, logger } = opts;
  if (requests <= 0) return undefined;
  const stores = await listAllStores(opts.catalog, 500, STORES).catch((e: unknown) => {
    logger.warn({ err: e }, 'warm-up skipped: the store catalog cannot be read');
    return [];
  });
  if (stores.length === 0) return undefined;
  const key = newDemoKey();
  keys.addBuiltIn(key, ['predict'], RATE_LIMIT_PER_SECOND, 'warm-up', true);
  const pool = new Pool(origin, { connections: CONCURRENCY });
  const started = Date.now();
  const result: WarmUpResult = { requests: 0, refused: 0, ms: 0, cut: false };
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const next = (i: number): { path: string; body: string } => {
    const store = stores[i % stores.length]!;
    // A destination a kilometre from the store, in a direction that changes with each request.
    const angle = i * 2.399963;
    const destination = offsetKm(store.location, Math.sin(angle), Math.cos(angle));
    if (i % BATCH_EVERY === BATCH_EVERY - 1) {
      const ids = Array.from({ length: BATCH_STORES }, (_, k) => stores[(i + k) % stores.length]!.storeId);
      return { path: '/v1/eta/batch', body: JSON.stringify({ destination, store_ids: ids, items: 2 }) };
    }
    // A checkout at an hour the store is open, the path most real traffic takes whatever the hour of the start;
    // list pages above go at the start's hour, refusals of closed stores included.
    const ordered_at = new Date(openHour(store, started, i)).toISOString();
    const body = { store_id: store.storeId, destination, items: 2, ordered_at };
    return { path: '/v1/eta', body: JSON.stringify(body) };
  };
  // One listener for every request: a stop during the warm-up ends them all at once.
  const stop = (): void => void pool.destroy();
  signal.addEventListener('abort', stop, { once: true });
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < requests) {
      if (signal.aborted || Date.now() - started > MAX_MS) {
        result.cut = true;
        return;
      }
      const { path, body } = next(sent++);
      const res = await pool.request({ origin, path, method: 'POST', headers, body });
      await res.body.dump();
      result.requests++;
      if (res.statusCode !== 200) result.refused++;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, requests) }, worker));
  } catch (e) {
    if (!signal.aborted) logger.warn({ err: e }, 'warm-up request failed: serving anyway');
    result.cut = true;
  } finally {
    signal.removeEventListener('abort', stop);
    keys.removeBuiltIn(key);
    await pool.destroy();
  }
  result.ms = Date.now() - started;
  return result;
}

/** The first hour from `fromMs` (trying from the `i`th, so requests spread over the day) the store is open at. */
function openHour(store: Store, fromMs: number, i: number): number {
  for (let k = 0; k < 24; k++) {
    const at = fromMs + ((i + k) % 24) * 3_600_000;
    if (isOpen(store, at)) return at;
  }
  return fromMs;
}
