import { Type, type Static } from 'typebox';
import { cacheConfigSchema } from '../cache/index.js';
import { eventsConfigSchema } from '../events/index.js';
import { gatewayConfigSchema } from '../gateway/index.js';
import { geoConfigSchema } from '../geo/index.js';
import { ordersConfigSchema } from '../orders/index.js';
import { pipelineConfigProblem, pipelineConfigSchema } from '../pipeline/index.js';
import { ConfigError, loadConfig, platformConfigSchema, type LoadConfigOptions } from '../platform/index.js';
import { predictorConfigSchema, rolloutConfigSchema } from '../predictor/index.js';
import { simulatorConfigSchema } from '../simulator/index.js';
import { storeConfigSchema } from '../store/index.js';

/** Where the modules that do not run in this process are. An empty URL means "in this process". */
export const topologyConfigSchema = Type.Object(
  {
    storeUrl: Type.String({ default: '', description: 'Base URL of a store process; empty = in-process' }),
    geoUrl: Type.String({ default: '', description: 'Base URL of a geo process; empty = in-process' }),
    ordersUrl: Type.String({
      default: '',
      description: 'Base URL of the orders process (the order state); empty = in-process',
    }),
    predictorUrls: Type.Array(Type.String(), {
      default: [],
      description: 'Base URLs of predictor replicas (comma-separated in the env); empty = in-process',
    }),
    predictorDiscovery: Type.Union([Type.Literal('none'), Type.Literal('dns')], {
      default: 'none',
      description:
        "'dns': each predictor URL's host names a headless Service; every address it resolves to is one replica (http only). 'none': each URL is one replica",
    }),
    predictorDiscoveryIntervalMs: Type.Integer({
      default: 10_000,
      minimum: 100,
      maximum: 3_600_000,
      description:
        'With predictorDiscovery=dns, how often the names are resolved again (also within a second of a refused or reset connection)',
    }),
    sharedDisk: Type.Boolean({
      default: false,
      description:
        'Every process of this deployment runs on one node and shares platform.dataDir (etaserve up sets it with file logs): only then may a multi-process shape keep the event log in files (else events.backend=redis)',
    }),
    remoteTimeoutMs: Type.Integer({
      default: 100,
      minimum: 1,
      maximum: 60_000,
      description: 'Deadline of one call to a store or geo process',
    }),
  },
  { default: {} },
);

/** The root configuration: one section per module, each owned by its module. */
export const appConfigSchema = Type.Object({
  platform: platformConfigSchema,
  topology: topologyConfigSchema,
  gateway: gatewayConfigSchema,
  predictor: predictorConfigSchema,
  rollout: rolloutConfigSchema,
  store: storeConfigSchema,
  geo: geoConfigSchema,
  cache: cacheConfigSchema,
  simulator: simulatorConfigSchema,
  pipeline: pipelineConfigSchema,
  events: eventsConfigSchema,
  orders: ordersConfigSchema,
});

export type AppConfig = Static<typeof appConfigSchema>;

export function loadAppConfig(options: LoadConfigOptions = {}): AppConfig {
  const config = loadConfig(appConfigSchema, options);
  const problem = pipelineConfigProblem(config.pipeline);
  if (problem) throw new ConfigError(`config: ${problem}`);
  return config;
}
