export {
  CACHE_NAMES,
  cacheConfigFor,
  usesRedis,
  cacheConfigSchema,
  type CacheConfig,
  type CacheName,
} from './config.js';
export type { RefreshPolicy } from './entry.js';
export {
  GENERATION_CHANNEL,
  GENERATIONS_KEY,
  INVALIDATION_CHANNEL,
  LocalInvalidationBus,
  RedisInvalidationBus,
  type InvalidationBus,
  type InvalidationEvent,
  type InvalidationListener,
} from './invalidation.js';
export {
  CacheKeys,
  DEFAULT_DESTINATION_RESOLUTION,
  MODELS_GENERATION,
  RESPONSE_TIME_BUCKET_MS,
  geoTravelKey,
  storeKey,
  storeLiveKey,
  timeBucket,
  type DestinationCell,
  type GenerationSource,
  type ResponseKeyParts,
} from './keys.js';
export { jsonCodec, MemoryL2, type Codec, type L2Outcome, type L2Store, type L2Write } from './l2.js';
export { cacheMetrics, type CacheMetrics } from './metrics.js';
export { cacheModule, createCacheModule, type CacheForOptions, type CacheModule } from './module.js';
export {
  TieredCache,
  type BatchLoader,
  type CacheStats,
  type LoadOptions,
  type Loader,
  type TieredCacheOptions,
} from './tiered-cache.js';
