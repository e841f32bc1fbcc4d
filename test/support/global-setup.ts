import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * End-to-end tests run the compiled CLI. `npm test` builds first; a bare `vitest` builds here. A failed build only
 * warns, so unit tests still run; end-to-end tests then fail on the missing binary with the build's errors above.
 */
export default function setup(): void {
  if (existsSync('dist/cli/main.js')) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  } catch {
    console.warn('global setup: the build failed; end-to-end tests will fail');
  }
}
