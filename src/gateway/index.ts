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
export { gatewayConfigSchema, type GatewayConfig } from './config.js';
export { createGatewayModule, gatewayModule, VERSION, type GatewayModule } from './module.js';
export { isoInTimezone } from './promise.js';
