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
        responses: 5_000,
        'store-profiles': 300_000,
        'store-live': 2_000,
        'geo-trips': 600_000,
      },
      1,
    ),
    destinationCellResolution: Type.Integer({
      default: DEFAULT_DESTINATION_RESOLUTION,
      minimum: 7,
      maximum: 12,
      description:
        "H3 resolution of the destination cell in response and geo-trip keys: orders to one cell share an answer and a travel estimate made to the cell's centre. 8 = cells of ~0.74 km²; 7 moves estimates by minutes, finer shares less",
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
