import {
  EtaError,
  Gauge,
  Counter,
  type ModuleContext,
  type Registry,
  type Service,
} from '../platform/index.js';
import type { ListOptions, PutResult, StoreCatalog, StorePage, UpsertManyResult } from './catalog.js';
import type { EventLog, Subscription } from '../events/index.js';
import type { StoreConfig } from './config.js';
import { startLiveProjection } from './live-projection.js';
import { LiveState } from './live-state.js';
import { openStoreCatalog } from './open.js';
import { CachedCatalog } from './profile-cache.js';
import { storeInternalRoutes, type StoreRoutes } from './routes.js';
import { StoreService } from './service.js';
import type { NewStore, Store } from './types.js';
import type { StorePatch } from './validate.js';

export interface StoreModule {
  service: Service;
  /** Feature records for the predictor and the gateway's fallback; also the catalog. */
  store: StoreService;
  /** The same service as a catalog: `/v1/stores` writes through it, so its profile cache and live state stay right. */
  catalog: StoreCatalog;
  liveState: LiveState;
  /** Full paths under `/internal/store`: register bare. */
  internalRoutes: StoreRoutes;
}

/** The database opens at start, not at wiring: until then (and after stop) calls fail with `not_ready`. */
class OpenedLater implements StoreCatalog {
  inner: StoreCatalog | undefined;

  private get db(): StoreCatalog {
    if (!this.inner) throw new EtaError('not_ready', 'the store catalog is not open', { retryAfter: 1 });
    return this.inner;
  }

  get = async (id: string): Promise<Store | undefined> => this.db.get(id);
  getMany = async (ids: readonly string[]): Promise<Map<string, Store>> => this.db.getMany(ids);
  list = async (options?: ListOptions): Promise<StorePage> => this.db.list(options);
  create = async (store: NewStore): Promise<Store> => this.db.create(store);
  put = async (store: NewStore): Promise<PutResult> => this.db.put(store);
  patch = async (id: string, patch: StorePatch): Promise<Store> => this.db.patch(id, patch);
  delete = async (id: string): Promise<void> => this.db.delete(id);
  upsertMany = async (stores: readonly NewStore[]): Promise<UpsertManyResult> => this.db.upsertMany(stores);
  count = async (): Promise<number> => this.db.count();

  async close(): Promise<void> {
    const inner = this.inner;
    this.inner = undefined;
    await inner?.close();
  }
}

/** The registry is shared by every module of a process; tests build modules more than once. */
function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** The event log to project into live state; without it, live state is driven by callers (tests). */
export interface StoreEvents {
  log: EventLog;
  replayHours: number;
  pollMs: number;
}

export function createStoreModule(
  ctx: ModuleContext,
  config: StoreConfig,
  events?: StoreEvents,
): StoreModule {
  const log = ctx.logger.child({ module: 'store' });
  const registers = [ctx.metrics.registry];
  const lookups = metric(
    ctx.metrics.registry,
    'etaserve_store_profile_cache_lookups_total',
    () =>
      new Counter({
        name: 'etaserve_store_profile_cache_lookups_total',
        help: 'Store profile cache lookups by result (hit, miss, stale when the database was down)',
        labelNames: ['result'],
        registers,
      }),
  );
  const opened = new OpenedLater();
  const catalog = new CachedCatalog(opened, {
    size: config.profileCacheSize,
    ttlMs: config.profileCacheTtlMs,
    onLookup: (result) => lookups.inc({ result }),
  });
  const liveState = new LiveState({
    alpha: config.prepEwmaAlpha,
    kitchenOrderTtlMs: config.kitchenOrderTtlMinutes * 60_000,
    timezoneOf: (storeId) => catalog.peek(storeId)?.timezone,
  });
  metric(
    ctx.metrics.registry,
    'etaserve_store_live_state_stores',
    () =>
      new Gauge({
        name: 'etaserve_store_live_state_stores',
        help: 'Stores with live state in memory',
        registers,
        collect() {
          this.set(liveState.size);
        },
      }),
  );
  const store = new StoreService(catalog, liveState);
  let sweeper: NodeJS.Timeout | undefined;
  let projection: Subscription | undefined;

  const service: Service = {
    name: 'store',
    async start() {
      opened.inner = await openStoreCatalog(config, ctx.platform, log);
      log.info({ database: config.database, stores: await opened.inner.count() }, 'store catalog open');
      sweeper = setInterval(() => liveState.sweep(Date.now()), 60_000);
      sweeper.unref();
      if (events) projection = startLiveProjection(events.log, liveState, { ...events, logger: log });
    },
    async stop() {
      clearInterval(sweeper);
      await projection?.close();
      await catalog.close();
    },
    check: () => (opened.inner ? { ready: true } : { ready: false, reason: 'catalog not open' }),
  };
  return { service, store, catalog: store, liveState, internalRoutes: storeInternalRoutes(store) };
}
