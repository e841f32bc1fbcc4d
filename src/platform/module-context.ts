import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { PlatformConfig } from './platform-config.js';

/** What the composition root hands every module builder besides its own config section. */
export interface ModuleContext {
  logger: Logger;
  metrics: Metrics;
  platform: PlatformConfig;
}
