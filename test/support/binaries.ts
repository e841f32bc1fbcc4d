import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * Tests that need a real server start it from the binaries on the PATH. Where one is missing, the suite is skipped
 * with a loud message, except under CI=true, where a missing binary fails the run.
 */
export function findBinary(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const POSTGRES_DIRS = [
  '/usr/lib/postgresql/15/bin',
  '/usr/lib/postgresql/16/bin',
  '/usr/lib/postgresql/17/bin',
];

/** Returns the binary's path, or undefined after warning loudly. Throws under CI=true. */
export function requireBinary(name: string, why: string, extraDirs: string[] = []): string | undefined {
  const found = findBinary(name, extraDirs);
  if (found) return found;
  const message = `${name} is not installed: skipping ${why}. Install it (see .ci/run) to run these tests.`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${message}`);
  console.warn(`\n${'!'.repeat(100)}\n!! SKIPPED: ${message}\n${'!'.repeat(100)}\n`);
  return undefined;
}
