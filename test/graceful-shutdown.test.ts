import { afterEach, describe, expect, it } from 'vitest';
import { freePort, freshDataDir, run, waitReady, type Running } from './support/processes.js';
import { ensureTemplate } from './support/template.js';

/**
 * SIGTERM while a request is in flight: the predictor stops taking new work, finishes the request, and exits 0.
 * The request is slow for a real reason: the store process it needs is frozen (SIGSTOP) until after the SIGTERM.
 */
describe('graceful shutdown', () => {
  const started: Running[] = [];
  const cleanups: Array<() => void> = [];
  afterEach(async () => {
    for (const r of started) {
      if (r.process.pid && r.process.exitCode === null) process.kill(r.process.pid, 'SIGCONT');
      await r.stop('SIGKILL');
    }
    cleanups.forEach((c) => c());
  });

  it('finishes the in-flight request, then exits 0', async () => {
    await ensureTemplate();
    const { dir, cleanup } = freshDataDir();
    cleanups.push(cleanup);
    const [storePort, predictorPort] = [await freePort(), await freePort()];
    const store = run(['start', '--target', 'store'], {
      ETASERVE_DATA_DIR: dir,
      ETASERVE_STORE_PORT: String(storePort),
    });
    started.push(store);
    await waitReady(`http://127.0.0.1:${storePort}`, store);
    const predictor = run(['start', '--target', 'predictor'], {
      ETASERVE_DATA_DIR: dir,
      ETASERVE_PREDICTOR_PORT: String(predictorPort),
      ETASERVE_TOPOLOGY_STORE_URL: `http://127.0.0.1:${storePort}`,
      ETASERVE_PREDICTOR_FEATURE_DEADLINE_MS: '10000',
      ETASERVE_TOPOLOGY_REMOTE_TIMEOUT_MS: '10000',
      ETASERVE_DRAIN_TIMEOUT_MS: '20000',
    });
    started.push(predictor);
    const url = `http://127.0.0.1:${predictorPort}`;
    await waitReady(url, predictor);

    process.kill(store.process.pid!, 'SIGSTOP');
    const inFlight = fetch(`${url}/internal/predict/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        store_ids: ['s-0001'],
        destination: { lat: 48.864, lng: 2.352 },
        ordered_at_ms: Date.parse('2026-11-26T19:05:00+01:00'),
      }),
    });
    await new Promise((r) => setTimeout(r, 500));
    const exited = predictor.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    expect(predictor.process.exitCode).toBeNull();
    process.kill(store.process.pid!, 'SIGCONT');

    const res = await inFlight;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: Array<{ prediction?: { p50: number } }> };
    expect(body.results[0]!.prediction!.p50).toBeGreaterThan(0);
    expect(await exited).toBe(0);
  });
});
