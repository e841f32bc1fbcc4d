/**
 * The peer: FastAPI + uvicorn + XGBoost 1.7 from `../shared/peers/fastapi-xgboost`, one uvicorn worker, one XGBoost
 * thread, started exactly as its README says.
 */
import path from 'node:path';
import { freePort, startService } from '../lib/proc.js';
import type { Service } from '../lib/proc.js';
import { REPO_ROOT } from '../lib/results.js';
import type { Target } from './target.js';

export const PEER_DIR = path.join(REPO_ROOT, '..', 'shared', 'peers', 'fastapi-xgboost');
/** Debian's interpreter sees the apt packages; a pyenv `python3` on the PATH may not. */
export const PEER_PYTHON = process.env['PEER_PYTHON'] ?? '/usr/bin/python3';
export const PEER_FILES = {
  model: path.join(PEER_DIR, 'model.json'),
  features: path.join(PEER_DIR, 'features.json'),
  single: path.join(PEER_DIR, 'payload_single.jsonl'),
  batch: path.join(PEER_DIR, 'payload_batch50.jsonl'),
};

export interface RunningServer extends Service {
  url: string;
}

export async function startPeer(workers = 1): Promise<RunningServer> {
  const port = await freePort();
  const args = [
    '-m',
    'uvicorn',
    'app:app',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--workers',
    String(workers),
  ];
  args.push('--loop', 'uvloop', '--http', 'httptools', '--no-access-log', '--log-level', 'warning');
  const service = await startService({
    name: `peer fastapi-xgboost (${workers} uvicorn worker${workers > 1 ? 's' : ''})`,
    command: PEER_PYTHON,
    args,
    cwd: PEER_DIR,
    env: { XGB_NTHREAD: '1' },
    readyUrl: `http://127.0.0.1:${port}/healthz`,
    readyTimeoutMs: 60_000,
  });
  return { ...service, url: `http://127.0.0.1:${port}` };
}

export function peerTargets(url: string): { single: Target; batch: Target } {
  return {
    single: { url, path: '/predict', source: { kind: 'jsonl', file: PEER_FILES.single }, rowsPerRequest: 1 },
    batch: {
      url,
      path: '/predict/batch',
      source: { kind: 'jsonl', file: PEER_FILES.batch, itemsField: 'orders' },
      rowsPerRequest: 50,
    },
  };
}
