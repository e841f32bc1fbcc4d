import type { CacheConfig, CacheModule, Codec } from '../cache/index.js';
import { withSharedParts } from './shared-parts.js';
import {
  Counter,
  defineModule,
  EtaError,
  Gauge,
  type Logger,
  type ModuleContext,
  type Registry,
  type Service,
} from '../platform/index.js';
import type { ListOptions, PutResult, StoreCatalog, StorePage, UpsertManyResult } from './catalog.js';
import type { EventLog, Subscription } from '../events/index.js';
import type { StoreConfig } from './config.js';
import { StoreChangeNotifier, type StoreChangeNotifierDeps } from './live-changes.js';
import { startLiveProjection } from './live-projection.js';
import { LiveState } from './live-state.js';
import { openStoreCatalog } from './open.js';
import { CachedCatalog } from './profile-cache.js';
import { FeatureCache, invalidateOnWrite, type FeatureCacheDeps } from './feature-cache.js';
import { StoreClient } from './client.js';
import { storeInternalRoutes, type StoreRoutes } from './routes.js';
import { StoreService } from './service.js';
import { fromLiveJson, toLiveJson } from './json.js';
import type { StoreLiveJson } from './schemas.js';
import type { NewStore, Store, StoreFeatures, StoreLiveSnapshot, StoreLiveSource } from './types.js';
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
  /** Features through the process's caches, when they were given (`cached`). */
  features: FeatureCache | undefined;
}

/**
 * The database opens at start, not at wiring: until then (and after stop) calls fail with `not_ready`. Every write
 * reaches the database through here, so here is where written stores are reported changed (also after a failed
 * write: it may have reached the database).
 */
class OpenedLater implements StoreCatalog {
  inner: StoreCatalog | undefined;

  constructor(private readonly written: (storeIds: readonly string[]) => void) {}

  private async writing<T>(storeIds: readonly string[], write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.written(storeIds);
    }
  }

  private get db(): StoreCatalog {
    if (!this.inner) throw new EtaError('not_ready', 'the store catalog is not open', { retryAfter: 1 });
    return this.inner;
  }

  get = async (id: string): Promise<Store | undefined> => this.db.get(id);
  getMany = async (ids: readonly string[]): Promise<Map<string, Store>> => this.db.getMany(ids);
  list = async (options?: ListOptions): Promise<StorePage> => this.db.list(options);
  create = async (store: NewStore): Promise<Store> =>
    this.writing([store.storeId], () => this.db.create(store));
  put = async (store: NewStore): Promise<PutResult> =>
    this.writing([store.storeId], () => this.db.put(store));
  patch = async (id: string, patch: StorePatch): Promise<Store> =>
    this.writing([id], () => this.db.patch(id, patch));
  delete = async (id: string): Promise<void> => this.writing([id], () => this.db.delete(id));
  upsertMany = async (stores: readonly NewStore[]): Promise<UpsertManyResult> =>
    this.writing(
      stores.map((s) => s.storeId),
      () => this.db.upsertMany(stores),
    );
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

/**
 * Where store changes are announced, so other processes' caches of live state and answers follow them (see
 * StoreChangeNotifier); without it, those caches rely on their TTLs alone.
 */
export type StoreChanges = Omit<StoreChangeNotifierDeps, 'logger'>;

/** The caches store features go through in this process (the `cache` module's). */
export type StoreCaches = Pick<FeatureCacheDeps, 'profileCache' | 'liveCache'>;

export function createStoreModule(
  ctx: ModuleContext,
  config: StoreConfig,
  events?: StoreEvents,
  changes?: StoreChanges,
  cached?: StoreCaches,
): StoreModule {
  const log = ctx.logger.child({ module: 'store' });
  const notifier = changes && new StoreChangeNotifier({ ...changes, logger: log });
  const changed = notifier?.storeChanged;
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
  let features: FeatureCache | undefined;
  const opened = new OpenedLater((ids) => {
    ids.forEach((id) => changed?.(id));
    // Written profiles leave the caches here, in L2 and, through the cache bus, in every replica.
    void features
      ?.invalidate(ids)
      .catch((e: unknown) => log.warn({ err: e }, 'store profile invalidation failed'));
  });
  const catalog = new CachedCatalog(opened, {
    size: config.profileCacheSize,
    ttlMs: config.profileCacheTtlMs,
    onLookup: (result) => lookups.inc({ result }),
  });
  const liveState = new LiveState({
    alpha: config.prepEwmaAlpha,
    kitchenOrderTtlMs: config.kitchenOrderTtlMinutes * 60_000,
    timezoneOf: (storeId) => catalog.peek(storeId)?.timezone,
    ...(changed ? { onChange: changed } : {}),
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
  if (cached) features = cachedFeatures(store, cached, log);
  let sweeper: NodeJS.Timeout | undefined;
  let projection: Subscription | undefined;

  const service: Service = {
    name: 'store',
    async start() {
      opened.inner = await openStoreCatalog(config, ctx.platform, log);
      log.info({ database: config.database, stores: await opened.inner.count() }, 'store catalog open');
      sweeper = setInterval(() => liveState.sweep(Date.now()), 60_000);
      sweeper.unref();
      if (events) projection = await startLiveProjection(events.log, liveState, { ...events, logger: log });
      notifier?.start();
    },
    async stop() {
      clearInterval(sweeper);
      await projection?.close();
      await notifier?.stop();
      await catalog.close();
    },
    check: () => (opened.inner ? { ready: true } : { ready: false, reason: 'catalog not open' }),
  };
  return { service, store, catalog: store, liveState, internalRoutes: storeInternalRoutes(store), features };
}

/** One feature cache per process, over the store here or the store service. */
function cachedFeatures(
  source: StoreLiveSource & Pick<StoreCatalog, 'getMany'>,
  caches: StoreCaches,
  logger: Logger,
): FeatureCache {
  return new FeatureCache({
    live: (ids) => source.getLive(ids),
    profiles: (ids) => source.getMany(ids),
    ...caches,
    deadlineMs: DEFAULT_FEATURE_DEADLINE_MS,
    logger,
  });
}

/** Profiles into the process's feature cache before it serves (FeatureCache.preload); a failure only logs. */
async function preloadProfiles(
  features: FeatureCache,
  catalog: Pick<StoreCatalog, 'list'>,
  logger: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const started = Date.now();
  try {
    const stores = await features.preload((o) => catalog.list(o), { signal });
    logger.info({ stores, ms: Date.now() - started }, 'store profiles preloaded');
  } catch (e) {
    logger.warn({ err: e }, 'store profile preload failed: serving on misses');
  }
}

/** Profiles read back from L2 share their repeated parts, like those read from the catalog or the store service. */
const storeProfileCodec: Codec<Store> = {
  encode: (store) => JSON.stringify(store),
  decode: (text) => withSharedParts(JSON.parse(text) as Store),
};

/** Live state in L2 as on the wire: its float32 slots stay exact. */
export const storeLiveCodec: Codec<StoreLiveSnapshot> = {
  encode: (snapshot) => JSON.stringify(toLiveJson(snapshot)),
  decode: (text) => fromLiveJson(JSON.parse(text) as StoreLiveJson),
};

/** The store's caches in the process's cache module: profiles (long TTL) and live state (until it changes). */
function storeCaches(cache: CacheModule): StoreCaches {
  return {
    profileCache: cache.cacheFor('store-profiles', { codec: storeProfileCodec }),
    liveCache: cache.cacheFor('store-live', { codec: storeLiveCodec }),
  };
}

/** How long a caller waits for the store service when last known values could answer (callers may pass theirs). */
const DEFAULT_FEATURE_DEADLINE_MS = 50;

export interface StoreProvides {
  /** The catalog: a write drops the written stores' cached profiles here, in L2 and in every replica. */
  catalog: StoreCatalog;
  /** Features as the store has them now: live state here, or the store service's answer. */
  source: StoreFeatures & StoreLiveSource & StoreCatalog;
  /** Features through this process's caches, with last known values when the store service fails. */
  features: FeatureCache;
}

declare module '../platform/module-definition.js' {
  interface ModuleProvides {
    store: StoreProvides;
  }
}

interface StoreModuleConfig {
  store: StoreConfig;
  cache: Pick<CacheConfig, 'changeCoalesceMs'>;
  topology: { storeUrl: string };
}

export const storeModule = defineModule<StoreModuleConfig, StoreProvides>({
  name: 'store',
  description: 'store catalog (SQL) and live store state',
  needs: ['cache', 'events'],
  port: (config) => config.store.port,
  init({ config, ctx, get, runs }) {
    const cache = get('cache');
    const caches = storeCaches(cache);
    const store = createStoreModule(
      ctx,
      config.store,
      get('events').projections,
      {
        liveCache: caches.liveCache,
        bus: cache.bus,
        periodMs: config.cache.changeCoalesceMs,
      },
      caches,
    );
    return {
      provides: { catalog: store.catalog, source: store.store, features: store.features! },
      services: [
        store.service,
        // A predictor here turns ready with the catalog's profiles in its cache (warm), not on misses.
        ...(runs('predictor')
          ? [
              {
                name: 'store-preload',
                start: (signal: AbortSignal) =>
                  preloadProfiles(store.features!, store.catalog, ctx.logger, signal),
              },
            ]
          : []),
      ],
      internalRoutes: [{ plugin: store.internalRoutes }],
    };
  },
  remote: {
    needs: ['cache'],
    configured: (config) => config.topology.storeUrl !== '',
    client({ config, ctx, get, remote, runs }) {
      const cache = get('cache');
      const client = new StoreClient(remote('store', config.topology.storeUrl));
      const features = cachedFeatures(
        client,
        storeCaches(cache),
        ctx.logger.child({ module: 'store-client' }),
      );
      return {
        provides: {
          catalog: invalidateOnWrite(client, (ids) => features.invalidate(ids)),
          source: client,
          features,
        },
        services: [
          {
            name: 'store-client',
            // A predictor turns ready with the catalog's profiles in its cache (warm), not on misses.
            ...(runs('predictor')
              ? { start: (signal: AbortSignal) => preloadProfiles(features, client, ctx.logger, signal) }
              : {}),
            stop: () => client.close(),
          },
        ],
      };
    },
  },
});
