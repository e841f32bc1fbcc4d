import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/app/index.js';
import { configReference } from '../src/platform/index.js';

describe('docs/configuration.md', () => {
  it('is the reference generated from the schema (run `npm run docs:config` after changing a config)', () => {
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(configReference(appConfigSchema));
  });
});
