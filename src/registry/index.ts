import path from 'node:path';

export { FileModelRegistry } from './file-registry.js';
export { InMemoryModelRegistry } from './memory-registry.js';
export type { ModelAlias, ModelRecord, ModelRegistry } from './types.js';

/** Where the embedded default keeps the registry: `<dataDir>/registry`. */
export function registryDir(dataDir: string): string {
  return path.join(dataDir, 'registry');
}
