import { Writable } from 'node:stream';
import { Value } from 'typebox/value';
import {
  cacheConfigSchema,
  createCacheModule,
  type CacheConfig,
  type CacheModule,
} from '../../src/cache/index.js';
import { createLogger, Registry, type ModuleContext } from '../../src/platform/index.js';

/** One "replica" of a service's cache module, with its own metrics registry and its log lines captured. */
export interface CacheReplica {
  module: CacheModule;
  registry: Registry;
  logs: { level: string; msg: string }[];
}

export function cacheReplica(config: Partial<CacheConfig>): CacheReplica {
  const logs: CacheReplica['logs'] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  const registry = new Registry();
  const ctx: ModuleContext = {
    logger: createLogger({ level: 'info', destination }),
    metrics: { registry, httpDuration: undefined as never },
    // Only the logger and registry matter to the cache module.
    platform: {
      dataDir: '.',
      drainTimeoutMs: 1000,
      host: '127.0.0.1',
    } as unknown as ModuleContext['platform'],
  };
  const full = Value.Default(cacheConfigSchema, structuredClone(config)) as CacheConfig;
  return { module: createCacheModule(ctx, full), registry, logs };
}
