import { Type, type Static } from 'typebox';
import { DEFAULT_DESTINATION_RESOLUTION } from './keys.js';

/** The named caches every service shares; each has its own byte bound and TTL. */
export const CACHE_NAMES = ['responses', 'store-profiles', 'store-live', 'geo-trips'] as const;
export type CacheName = (typeof CACHE_NAMES)[number];

const MiB = 1024 * 1024;

const perCache = (what: string, unit: string, defaults: Record<CacheName, number>, minimum: number) =>
  Type.Object(
    {
      responses: Type.Integer({
        default: defaults.responses,
        minimum,
        description: `${what} of gateway responses (${unit})`,
      }),
      storeProfiles: Type.Integer({
        default: defaults['store-profiles'],
        minimum,
        description: `${what} of store profiles (${unit})`,
      }),
      storeLive: Type.Integer({
        default: defaults['store-live'],
        minimum,
        description: `${what} of live store state (${unit})`,
      }),
      geoTrips: Type.Integer({
        default: defaults['geo-trips'],
        minimum,
        description: `${what} of geo travel estimates (${unit})`,
      }),
    },
    { default: {} },
  );

/** The `cache` section. Without `redisUrl` or `redisClusterNodes`, each replica's L1 serves alone. */
export const cacheConfigSchema = Type.Object(
  {
    redisUrl: Type.String({
      default: '',
      description: "Standalone Redis for the shared L2 (redis://host:port/db); '' = no standalone Redis",
    }),
    redisClusterNodes: Type.Array(Type.String({ pattern: '^[^:\\s]+:[0-9]+$' }), {
      default: [],
      description: 'Redis Cluster seed nodes as host:port for the shared L2; empty = no cluster',
    }),
    l1MaxBytes: perCache(
      'In-process L1 bound',
      'bytes per replica',
      {
        responses: 64 * MiB,
        'store-profiles': 32 * MiB,
        'store-live': 16 * MiB,
        'geo-trips': 64 * MiB,
      },
      1024,
    ),
    ttlMs: perCache(
      'Freshness',
      'ms',
      {
        // A response's key moves to a new generation when its store changes and to a new time bucket every quarter
        // hour. The TTL bounds what no announcement covers, such as rider supply: a hot answer is recomputed in the
        // background every 2.5 minutes, so it is never more than a few minutes old.
        responses: 150_000,
        'store-profiles': 300_000,
        // Invalidated when the store's live state changes: the TTL is only a bound on a missed invalidation.
        'store-live': 60_000,
        // Rider supply rides along in each entry: this bounds its age (zone speeds change only with a promotion).
        'geo-trips': 120_000,
      },
      1,
    ),
    unheardTtlMs: Type.Object(
      {
        responses: Type.Integer({
          default: 5_000,
          minimum: 1,
          description:
            'Freshness of gateway responses (ms) in a process that cannot hear store changes (no Redis, no store module in it and no store process to follow); also how long answers live while Redis or the store process is out of reach',
        }),
        storeLive: Type.Integer({
          default: 2_000,
          minimum: 1,
          description:
            'Freshness of live store state (ms) in a process that cannot hear store changes (no Redis, no store module in it and no store process to follow)',
        }),
      },
      { default: {} },
    ),
    changeCoalesceMs: Type.Integer({
      default: 250,
      minimum: 10,
      maximum: 10_000,
      description:
        "How often the store module publishes its stores' changes (live state, profile writes): a store changing many times in this window costs one invalidation",
    }),
    destinationCellResolution: Type.Integer({
      default: DEFAULT_DESTINATION_RESOLUTION,
      minimum: 7,
      maximum: 12,
      description:
        'H3 resolution of the destination cell in response keys: orders to one cell with alike baskets share an answer. 8 = cells of ~0.74 km²; 7 moves answers by minutes, finer shares less',
    }),
    l2TimeoutMs: Type.Integer({
      default: 30,
      minimum: 1,
      maximum: 5_000,
      description:
        'Deadline of one L2 (Redis) call; past it the call counts as a miss and the request goes on',
    }),
    refresh: Type.Object(
      {
        graceRatio: Type.Number({
          default: 0.5,
          minimum: 0,
          maximum: 10,
          description:
            'Stale-while-revalidate window as a fraction of the TTL: an expired entry is served this much longer while one background load refreshes it; 0 = never serve stale',
        }),
        xfetchBeta: Type.Number({
          default: 1,
          minimum: 0,
          maximum: 10,
          description:
            'XFetch probabilistic early refresh: larger refreshes earlier, scaled by how long a load takes; 0 = off',
        }),
      },
      { default: {} },
    ),
  },
  { default: {} },
);

export type CacheConfig = Static<typeof cacheConfigSchema>;

const CONFIG_KEY: Record<CacheName, 'responses' | 'storeProfiles' | 'storeLive' | 'geoTrips'> = {
  responses: 'responses',
  'store-profiles': 'storeProfiles',
  'store-live': 'storeLive',
  'geo-trips': 'geoTrips',
};

/** The per-cache settings of a named cache, read from the section. */
export function settingsFor(config: CacheConfig, name: CacheName): { ttlMs: number; l1MaxBytes: number } {
  const key = CONFIG_KEY[name];
  return { ttlMs: config.ttlMs[key], l1MaxBytes: config.l1MaxBytes[key] };
}

/** A Redis (standalone or Cluster) is configured as L2, and as the bus that carries invalidations between processes. */
export function usesRedis(config: CacheConfig): boolean {
  return config.redisUrl !== '' || config.redisClusterNodes.length > 0;
}

/**
 * The section as one process applies it. Live state and responses live long only because every change of a store
 * is announced (src/store/live-changes.ts); a process that cannot hear those announcements (no Redis to carry them,
 * no store module of its own and no store process to follow, src/cache/http-bus.ts) keeps them only as long as
 * `unheardTtlMs` says.
 */
export function cacheConfigFor(config: CacheConfig, hearsStoreChanges: boolean): CacheConfig {
  if (hearsStoreChanges) return config;
  return {
    ...config,
    ttlMs: {
      ...config.ttlMs,
      responses: Math.min(config.ttlMs.responses, config.unheardTtlMs.responses),
      storeLive: Math.min(config.ttlMs.storeLive, config.unheardTtlMs.storeLive),
    },
  };
}
