import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** End-to-end tests run the compiled CLI; `npm test` builds first, a bare `vitest` builds here. */
export default function setup(): void {
  if (!existsSync('dist/cli/main.js')) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  }
}
