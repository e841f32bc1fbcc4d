import { defineModule, type ModuleContext, type Service } from '../platform/index.js';
import {
  CACHE_NAMES,
  cacheConfigFor,
  settingsFor,
  usesRedis,
  type CacheConfig,
  type CacheName,
} from './config.js';
import type { RefreshPolicy } from './entry.js';
import { HttpInvalidationBus, invalidationHubRoutes, type HttpInvalidationBusOptions } from './http-bus.js';
import { LocalInvalidationBus, RedisInvalidationBus, type InvalidationBus } from './invalidation.js';
import { CacheKeys } from './keys.js';
import type { Codec, L2Store } from './l2.js';
import { cacheMetrics } from './metrics.js';
import { RedisConnection } from './redis-connection.js';
import { RedisL2 } from './redis-l2.js';
import { TieredCache } from './tiered-cache.js';

export interface CacheForOptions<V> {
  /** Encoding for L2 and for the L1 byte bound; JSON by default. */
  codec?: Codec<V>;
  /** Override the section's TTL (required for a name the section does not know). */
  ttlMs?: number;
  /** Override the section's L1 bound (required for a name the section does not know). */
  l1MaxBytes?: number;
  refresh?: Partial<RefreshPolicy>;
}

export interface CacheModule {
  /** Connects Redis when configured; never fails start because Redis is down. */
  service: Service;
  /** The cache of that name, created on first use; later calls return the same instance and ignore options. */
  cacheFor<V>(name: CacheName | (string & {}), options?: CacheForOptions<V>): TieredCache<V>;
  bus: InvalidationBus;
  /** The keys of the shared caches, at the configured destination-cell resolution. */
  keys: CacheKeys;
  /** Where each level stands, for the console and debugging. */
  stats(): ReturnType<TieredCache<unknown>['stats']>[];
}

const NAME = /^[a-z0-9][a-z0-9-]*$/;

/**
 * `followHub`: without Redis, follow the bus of the process that runs the store module over HTTP, so store changes
 * are heard here (cacheConfigFor with hearsStoreChanges).
 */
export function createCacheModule(
  ctx: ModuleContext,
  config: CacheConfig,
  followHub?: Omit<HttpInvalidationBusOptions, 'logger'>,
): CacheModule {
  if (config.redisUrl !== '' && config.redisClusterNodes.length > 0) {
    throw new Error('cache: set either redisUrl or redisClusterNodes, not both');
  }
  const logger = ctx.logger.child({ module: 'cache' });
  const metrics = cacheMetrics(ctx.metrics.registry);
  const useRedis = usesRedis(config);
  const connection = useRedis
    ? new RedisConnection({
        url: config.redisUrl,
        clusterNodes: config.redisClusterNodes,
        commandTimeoutMs: config.l2TimeoutMs,
        logger,
        up: metrics.l2Up,
      })
    : undefined;
  const l2: L2Store | undefined = connection && new RedisL2(connection, config.l2TimeoutMs);
  const bus: InvalidationBus = connection
    ? new RedisInvalidationBus(connection, logger, config.l2TimeoutMs)
    : followHub
      ? new HttpInvalidationBus({ ...followHub, logger })
      : new LocalInvalidationBus();
  const caches = new Map<string, TieredCache<unknown>>();

  const cacheFor = <V>(name: string, options: CacheForOptions<V> = {}): TieredCache<V> => {
    const existing = caches.get(name);
    if (existing) return existing as TieredCache<V>;
    if (!NAME.test(name)) throw new Error(`cache: invalid cache name ${JSON.stringify(name)}`);
    const known = (CACHE_NAMES as readonly string[]).includes(name)
      ? settingsFor(config, name as CacheName)
      : undefined;
    const ttlMs = options.ttlMs ?? known?.ttlMs;
    const l1MaxBytes = options.l1MaxBytes ?? known?.l1MaxBytes;
    if (ttlMs === undefined || l1MaxBytes === undefined) {
      throw new Error(`cache: ${name} is not configured; pass ttlMs and l1MaxBytes`);
    }
    const cache = new TieredCache<V>({
      name,
      ttlMs,
      l1MaxBytes,
      refresh: { ...config.refresh, ...options.refresh },
      metrics,
      codec: options.codec,
      l2,
      bus,
      logger,
    });
    caches.set(name, cache as TieredCache<unknown>);
    return cache;
  };

  const service: Service = {
    name: 'cache',
    async start() {
      if (connection) await connection.connect();
      else
        logger.info(
          followHub
            ? 'no Redis configured: each replica caches in L1 only; store changes come from the store process'
            : 'no Redis configured: each replica caches in L1 only',
        );
      await bus.start();
    },
    async stop() {
      for (const cache of caches.values()) cache.close();
      await bus.close();
      await connection?.close();
    },
  };

  return {
    service,
    cacheFor,
    bus,
    keys: new CacheKeys(config.destinationCellResolution),
    stats: () => [...caches.values()].map((c) => c.stats()),
  };
}

declare module '../platform/module-definition.js' {
  interface ModuleProvides {
    cache: CacheModule;
  }
}

/** The process's caches: each belongs to the module whose data it holds (cacheFor by name), built once, shared. */
export const cacheModule = defineModule<{ cache: CacheConfig; topology: { storeUrl: string } }, CacheModule>({
  name: 'cache',
  description: 'in-process caches (L1), Redis (L2) and the invalidation bus',
  needs: [],
  init({ config, ctx, runs, remote, internalToken }) {
    // Store changes reach this process through Redis, in process from its own store module, or from the store
    // process's bus over HTTP; where they cannot, live state and answers are cached only briefly
    // (cache.unheardTtlMs), and answers carry no generation.
    const redis = usesRedis(config.cache);
    const { storeUrl } = config.topology;
    const followsHub = !redis && !runs('store') && storeUrl !== '';
    const hearsStoreChanges = redis || runs('store') || followsHub;
    const cache = createCacheModule(
      ctx,
      cacheConfigFor(config.cache, hearsStoreChanges),
      followsHub ? { hubUrl: storeUrl, client: remote('store', storeUrl), internalToken } : undefined,
    );
    if (hearsStoreChanges) cache.keys.followGenerations(cache.bus, config.cache.unheardTtlMs.responses);
    return {
      provides: cache,
      services: [cache.service],
      // The store's process is where store changes happen: without Redis, the others follow its bus.
      ...(runs('store') && cache.bus instanceof LocalInvalidationBus
        ? { internalRoutes: [{ plugin: invalidationHubRoutes(cache.bus) }] }
        : {}),
    };
  },
});
