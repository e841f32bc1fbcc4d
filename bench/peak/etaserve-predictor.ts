/**
 * etaserve's side of scenario 1: a predictor process serving the peer's XGBoost `model.json` over the Open
 * Inference Protocol v2. HOW TO START IT LIVES HERE ONLY: change `PREDICTOR_LAUNCH` when the predictor's command,
 * environment, model name or readiness path settle.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startService } from '../lib/proc.js';
import { REPO_ROOT } from '../lib/results.js';
import type { RunningServer } from './peer.js';
import { PEER_FILES } from './peer.js';
import type { Target } from './target.js';

export const PREDICTOR_LAUNCH = {
  command: process.execPath,
  args: ['bin/etaserve.js', 'start', '--target', 'predictor'],
  env: (modelFile: string, port: number): Record<string, string> => ({
    ETASERVE_PREDICTOR_MODEL_FILE: modelFile,
    ETASERVE_PREDICTOR_PORT: String(port),
    // Its own data directory (catalog, event log), apart from any etaserve another engineer runs in this tree.
    ETASERVE_DATA_DIR: path.join(REPO_ROOT, 'bench', 'tmp', `predictor-${port}`),
    // A lone process over its own data directory: its file event log is no one else's.
    ETASERVE_TOPOLOGY_SHARED_DISK: 'true',
  }),
  /** The name the model is served under in `/v2/models/{name}/infer` (override: --model-name). */
  modelName: process.env['ETASERVE_BENCH_MODEL_NAME'] ?? 'eta',
  /** Answers 2xx once the model is loaded (OIP v2 server readiness; `/readyz` works too). */
  readyPath: '/v2/health/ready',
  readyTimeoutMs: 60_000,
};

export async function startEtaservePredictor(modelFile: string = PEER_FILES.model): Promise<RunningServer> {
  const port = await freePort();
  const service = await startService({
    name: 'etaserve predictor',
    command: PREDICTOR_LAUNCH.command,
    args: PREDICTOR_LAUNCH.args,
    cwd: REPO_ROOT,
    env: PREDICTOR_LAUNCH.env(modelFile, port),
    readyUrl: `http://127.0.0.1:${port}${PREDICTOR_LAUNCH.readyPath}`,
    readyTimeoutMs: PREDICTOR_LAUNCH.readyTimeoutMs,
  });
  return { ...service, url: `http://127.0.0.1:${port}` };
}

const OIP_SOURCE = fileURLToPath(new URL('./oip-source.ts', import.meta.url));

/** What to drive on a running predictor: the same rows as the peer's payloads, as OIP v2 bodies. */
export function oipTargets(
  baseUrl: string,
  modelName: string = PREDICTOR_LAUNCH.modelName,
): { single: Target; batch: Target } {
  const p = `/v2/models/${encodeURIComponent(modelName)}/infer`;
  const source = (file: string): Target['source'] => ({
    kind: 'module',
    module: OIP_SOURCE,
    options: { file, featuresFile: PEER_FILES.features },
  });
  return {
    single: { url: baseUrl, path: p, source: source(PEER_FILES.single), rowsPerRequest: 1 },
    batch: { url: baseUrl, path: p, source: source(PEER_FILES.batch), rowsPerRequest: 50 },
  };
}

export const predictorCommandLine = (): string =>
  `${Object.entries(PREDICTOR_LAUNCH.env('<model.json>', 0))
    .map(([k]) => `${k}=...`)
    .join(' ')} node ${PREDICTOR_LAUNCH.args.join(' ')}`;
