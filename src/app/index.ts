export {
  composeProcess,
  describeModules,
  remoteModules,
  VERSION,
  type ComposedProcess,
  type ComposeOptions,
  type Listener,
} from './compose.js';
export { INTERNAL_TOKEN_HEADER, isLoopback, StartupError } from './internal-auth.js';
export { appConfigSchema, loadAppConfig, topologyConfigSchema, type AppConfig } from './config.js';
export { openCatalogFromConfig, pipelineSourceOf, prepareFirstRun, registryFromConfig } from './first-run.js';
export { startLiveTraffic } from './live-traffic.js';
export {
  MODULE_TABLE,
  MODULES,
  resolveModules,
  resolveTargets,
  TARGETS,
  TargetError,
  type ModuleName,
} from './modules.js';
