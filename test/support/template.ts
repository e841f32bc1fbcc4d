import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BIN, TEMPLATE_DATA_DIR } from './processes.js';

const LOCK = path.resolve('.tmp/test-template.lock');
const DONE = path.join(TEMPLATE_DATA_DIR, 'READY');

/**
 * Trains the template data directory once for every end-to-end suite: a real model trained on simulated history
 * with `etaserve train`, exactly as a user would. Test files running in parallel wait for the one that trains.
 */
export async function ensureTemplate(): Promise<void> {
  if (existsSync(DONE)) return;
  mkdirSync(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      if (existsSync(DONE)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (existsSync(DONE)) return;
    rmSync(TEMPLATE_DATA_DIR, { recursive: true, force: true });
    execFileSync(process.execPath, [BIN, 'train', '--days', '14', '--trees', '200'], {
      env: { ...process.env, ETASERVE_DATA_DIR: TEMPLATE_DATA_DIR },
      stdio: 'pipe',
    });
    mkdirSync(DONE);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
