export {
  ApiKeyFileError,
  ApiKeyStore,
  KEY_REFRESH_MS,
  newDemoKey,
  SCOPES,
  type ApiKeyRecord,
  type Scope,
} from './api-keys.js';
export { keyBackendFor, openPostgresKeyBackend, SqlKeyBackend } from './key-sql.js';
export type { KeyBackend } from './key-backend.js';
export {
  balancerOptions,
  PredictorBalancer,
  type BalancerOptions,
  type ReplicaPredictor,
} from './balancer.js';
export { gatewayConfigSchema, type GatewayConfig } from './config.js';
export { endpointsOf, lookupAll, PredictorDiscovery, type Endpoint, type Resolve } from './discovery.js';
export { createGatewayModule, type GatewayModule } from './module.js';
export { isoInTimezone } from './promise.js';
