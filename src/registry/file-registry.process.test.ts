import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FileModelRegistry } from './file-registry.js';

const run = promisify(execFile);
const moduleUrl = pathToFileURL(
  path.join(path.dirname(fileURLToPath(import.meta.url)), 'file-registry.ts'),
).href;

describe('FileModelRegistry shared by separate processes', () => {
  it('gives every registration of two racing processes its own version', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'registry-procs-'));
    try {
      const script = path.join(dir, 'register.mjs');
      await writeFile(
        script,
        `import { FileModelRegistry } from ${JSON.stringify(moduleUrl)};
const reg = new FileModelRegistry(process.argv[2]);
const records = await Promise.all(Array.from({ length: 5 }, (_, i) => reg.register({ pid: process.pid, i }, { source: 'race' })));
console.log(JSON.stringify(records.map((r) => r.version)));`,
      );
      const registryDir = path.join(dir, 'registry');
      const outputs = await Promise.all(
        [0, 1].map(() =>
          run(process.execPath, ['--import', 'tsx', script, registryDir], { cwd: process.cwd() }),
        ),
      );
      const versions = outputs.flatMap((o) => JSON.parse(o.stdout) as string[]);
      expect(new Set(versions).size).toBe(10);
      const reader = new FileModelRegistry(registryDir);
      expect((await reader.list()).map((r) => r.version).sort()).toEqual([...versions].sort());
      const artifacts = await Promise.all(versions.map((v) => reader.loadArtifact(v)));
      expect(new Set(artifacts.map((a) => JSON.stringify(a))).size).toBe(10);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
