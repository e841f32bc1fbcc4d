import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appConfigSchema } from '../../src/app/index.js';
import { configLeaves } from '../../src/platform/index.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : [full];
  });
}

describe('environment variables in manifests and docs', () => {
  it('name only keys that the configuration schema knows', () => {
    const known = new Set(configLeaves(appConfigSchema).map((l) => l.env));
    // The topology test's containers too: an unknown variable is ignored silently, so a typo would test nothing.
    const sources = [
      ...files('deploy'),
      'Dockerfile',
      'docs/deploy.md',
      'README.md',
      'test/support/topology.ts',
    ];
    const unknown: string[] = [];
    for (const file of sources) {
      for (const match of readFileSync(file, 'utf8').matchAll(/\bETASERVE_[A-Z0-9_]+\b/g)) {
        if (!known.has(match[0])) unknown.push(`${file}: ${match[0]}`);
      }
    }
    expect(unknown).toEqual([]);
  });
});
