// Writes docs/configuration.md from the configuration schema.
import { writeFileSync } from 'node:fs';
import { appConfigSchema } from '../src/app/config.js';
import { configReference } from '../src/platform/index.js';

writeFileSync('docs/configuration.md', configReference(appConfigSchema));
console.log('wrote docs/configuration.md');
