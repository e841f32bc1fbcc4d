import { afterAll, describe, expect, it } from 'vitest';
import { composeProcess, type ComposedProcess } from '../src/app/compose.js';
import { loadAppConfig } from '../src/app/config.js';
import { prepareFirstRun } from '../src/app/first-run.js';
import { createLogger } from '../src/platform/index.js';
import { captureLogs, startAllWatched } from './gateway-app.js';
import { sumOf } from './support/metrics.js';
import { freshDataDir } from './support/processes.js';
import { ensureTemplate } from './support/template.js';

const TOKEN = 'predictor-warm-up-test-internal-token';

describe('predictor warm-up, in its own process', () => {
  const started: ComposedProcess[] = [];
  let cleanup = (): void => undefined;
  afterAll(async () => {
    for (const p of started.reverse()) await p.manager.stopAll();
    cleanup();
  });

  it('passes its own internal route, behind the token, before it turns ready, and counts none of it', async () => {
    await ensureTemplate();
    const data = freshDataDir();
    cleanup = data.cleanup;
    const env = {
      ETASERVE_DATA_DIR: data.dir,
      ETASERVE_INTERNAL_TOKEN: TOKEN,
      ETASERVE_TOPOLOGY_SHARED_DISK: 'true',
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
    };
    const base = loadAppConfig({ env: { ...env, ETASERVE_GEO_PORT: '0' } });
    await prepareFirstRun(base, { trainModel: true, seedStores: true }, { log: () => undefined });
    const storeAndGeo = await composeProcess(base, ['store', 'geo'], createLogger({ level: 'silent' }));
    started.push(storeAndGeo);
    await storeAndGeo.manager.startAll();
    const address = storeAndGeo.app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    const captured = captureLogs();
    const config = loadAppConfig({
      env: {
        ...env,
        ETASERVE_PREDICTOR_PORT: '0',
        ETASERVE_TOPOLOGY_STORE_URL: url,
        ETASERVE_TOPOLOGY_GEO_URL: url,
      },
    });
    const predictor = await composeProcess(
      config,
      ['predictor'],
      createLogger({ level: 'info', destination: captured.destination }),
    );
    started.push(predictor);
    const whileStarting = await startAllWatched(predictor);
    expect(whileStarting.readiness.some((r) => r.reasons.includes('warm-up is starting'))).toBe(true);
    expect(predictor.manager.readiness().ready).toBe(true);

    const line = captured
      .text()
      .split('\n')
      .find((l) => l.includes('predictor warmed up'));
    expect(line, captured.text().slice(-6000)).toBeDefined();
    const { predictions } = JSON.parse(line!) as { predictions: number };
    expect(predictions).toBeGreaterThanOrEqual(1000);

    const metrics = (await predictor.app.inject({ method: 'GET', url: '/metrics' })).body;
    // Every warm-up ETA crossed the route...
    const crossed = whileStarting.requests.filter((r) => r === 'POST /internal/predict/batch');
    expect(crossed).toHaveLength(predictions);
    // ...and was left out of the route's latency histogram...
    expect(
      sumOf(
        metrics,
        'etaserve_http_request_duration_seconds_count',
        (l) => l['route'] === '/internal/predict/batch',
      ),
    ).toBe(0);
    // ...and the serving predictor's own figures (what dashboards and drift read) saw none of them.
    expect(sumOf(metrics, 'etaserve_predict_stage_seconds_count', (l) => l['stage'] === 'total')).toBe(0);
  });
});
