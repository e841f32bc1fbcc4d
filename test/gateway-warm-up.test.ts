import { afterAll, describe, expect, it } from 'vitest';
import { composeProcess, type ComposedProcess } from '../src/app/compose.js';
import { loadAppConfig } from '../src/app/config.js';
import { prepareFirstRun } from '../src/app/first-run.js';
import { createLogger } from '../src/platform/index.js';
import { captureLogs } from './gateway-app.js';
import { DEMO_KEY, freshDataDir } from './support/processes.js';
import { ensureTemplate } from './support/template.js';

const WARM_UP_REQUESTS = 600;

describe('gateway warm-up', () => {
  let proc: ComposedProcess | undefined;
  let cleanup = (): void => undefined;
  afterAll(async () => {
    await proc?.manager.stopAll();
    cleanup();
  });

  it('sends itself real ETA requests over its listener before it turns ready, and none after', async () => {
    await ensureTemplate();
    const data = freshDataDir();
    cleanup = data.cleanup;
    const config = loadAppConfig({
      env: {
        ETASERVE_DATA_DIR: data.dir,
        ETASERVE_DEMO_API_KEY: DEMO_KEY,
        ETASERVE_GATEWAY_PORT: '0',
        ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
        ETASERVE_GATEWAY_WARM_UP_REQUESTS: String(WARM_UP_REQUESTS),
      },
    });
    const captured = captureLogs();
    await prepareFirstRun(config, { trainModel: true, seedStores: true }, { log: () => undefined });
    proc = await composeProcess(
      config,
      ['all'],
      createLogger({ level: 'info', destination: captured.destination }),
    );
    const composed = proc;

    // Readiness while it starts: the listener opens, then the warm-up keeps the process unready.
    const seen: Array<{ ready: boolean; reasons: string[] }> = [];
    let starting = true;
    const watch = (async () => {
      while (starting) {
        seen.push(composed.manager.readiness());
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await composed.manager.startAll();
    starting = false;
    await watch;

    const warming = seen.filter((r) => r.reasons.includes('warm-up is starting'));
    expect(warming.length).toBeGreaterThan(0);
    expect(warming.every((r) => !r.ready)).toBe(true);
    expect(composed.manager.readiness().ready).toBe(true);

    const line = captured
      .text()
      .split('\n')
      .find((l) => l.includes('gateway warmed up'));
    expect(line, captured.text().slice(-2000)).toBeDefined();
    const warmed = JSON.parse(line!) as { requests: number; refused: number; cut: boolean };
    expect(warmed).toMatchObject({ requests: WARM_UP_REQUESTS, cut: false });
    // Closed stores are refused (409), as they would be for anyone; most answer.
    expect(warmed.refused).toBeLessThan(WARM_UP_REQUESTS / 2);

    // They went through the listener and the whole stack: the route's own latency histogram counted them.
    const metrics = await composed.app.inject({ method: 'GET', url: '/metrics' });
    const served = [
      ...metrics.body.matchAll(/etaserve_http_request_duration_seconds_count\{([^}]*)\} (\d+)/g),
    ]
      .filter(([, labels]) => labels!.includes('route="/v1/eta'))
      .reduce((sum, [, , n]) => sum + Number(n), 0);
    expect(served).toBe(WARM_UP_REQUESTS);
  });
});
