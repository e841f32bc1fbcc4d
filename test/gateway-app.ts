import { Writable } from 'node:stream';
import { composeProcess, type ComposedProcess } from '../src/app/compose.js';
import { loadAppConfig } from '../src/app/config.js';
import { prepareFirstRun } from '../src/app/first-run.js';
import { createLogger, type Readiness } from '../src/platform/index.js';
import { DEMO_KEY, freshDataDir } from './support/processes.js';
import { ensureTemplate } from './support/template.js';
import { parisEvening } from './support/times.js';

export { DEMO_KEY };

export interface InProcess {
  proc: ComposedProcess;
  /** Every log line written so far. */
  logs: () => string;
  /** What it went through while it started. */
  whileStarting: WhileStarting;
  stop(): Promise<void>;
}

export interface WhileStarting {
  /** Its readiness every 5 ms: what a load balancer saw meanwhile. */
  readiness: Readiness[];
  /** The HTTP requests its main listener received (method and URL), as they arrived, before any hook. */
  requests: string[];
}

/** Starts a composed process's services, watching its readiness and main listener until they have all started. */
export async function startAllWatched(proc: ComposedProcess): Promise<WhileStarting> {
  const seen: Readiness[] = [];
  const requests: string[] = [];
  const received = (req: { method?: string; url?: string }): void =>
    void requests.push(`${req.method} ${req.url}`);
  proc.app.server.on('request', received);
  let starting = true;
  const watch = (async () => {
    while (starting) {
      seen.push(proc.manager.readiness());
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    await proc.manager.startAll();
  } finally {
    starting = false;
    proc.app.server.off('request', received);
    await watch;
  }
  return { readiness: seen, requests };
}

/** A log destination that keeps every line written to it. */
export function captureLogs(): { destination: Writable; text: () => string } {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { destination, text: () => text };
}

/** Every module in this process over a copy of the template data, served through `app.inject`. */
export async function startInProcess(
  env: Record<string, string> = {},
  logLevel = 'silent',
): Promise<InProcess> {
  await ensureTemplate();
  const data = freshDataDir();
  const config = loadAppConfig({
    env: {
      ETASERVE_DATA_DIR: data.dir,
      ETASERVE_DEMO_API_KEY: DEMO_KEY,
      ETASERVE_GATEWAY_PORT: '0',
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
      ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
      ...env,
    },
  });
  const captured = captureLogs();
  await prepareFirstRun(config, { trainModel: true, seedStores: true }, { log: () => undefined });
  const proc = await composeProcess(
    config,
    ['all'],
    createLogger({ level: logLevel, destination: captured.destination }),
  );
  const whileStarting = await startAllWatched(proc);
  return {
    proc,
    logs: captured.text,
    whileStarting,
    stop: async () => {
      await proc.manager.stopAll();
      data.cleanup();
    },
  };
}

export const ORDER = {
  store_id: 's-0001',
  destination: { lat: 48.864, lng: 2.352 },
  items: 2,
  ordered_at: parisEvening(),
};

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
