import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_SPEC } from '../src/features/index.js';
import { train } from '../src/model/index.js';
import { bearer, DEMO_KEY, ORDER, startInProcess, type InProcess } from './gateway-app.js';

/**
 * A model that answers what no order could meet (here: every delivery 10 minutes before it was ordered, as a model
 * asked about what it never learned can extrapolate) is not served: the answer is the fallback estimate, degraded.
 */
describe('an implausible model answer', () => {
  let dir: string;
  let app: InProcess;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'implausible-'));
    const n = 400;
    const columns = FEATURE_SPEC.map((f, j) =>
      Float64Array.from({ length: n }, (_, i) =>
        f.type === 'categorical' ? i % (f.categories?.length ?? 1) : ((i * (j + 3)) % 97) / 7,
      ),
    );
    const target = Float64Array.from({ length: n }, (_, i) => -600 + (i % 11));
    const artifact = await train({ spec: FEATURE_SPEC, columns, target }, undefined, {
      nTrees: 5,
      maxDepth: 2,
    });
    const modelFile = path.join(dir, 'model.json');
    await writeFile(modelFile, JSON.stringify(artifact));
    app = await startInProcess({ ETASERVE_PREDICTOR_MODEL_FILE: modelFile });
  }, 180_000);

  afterAll(async () => {
    await app?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is answered with the store prep plus the ride, marked degraded and counted', async () => {
    const res = await app.proc.app.inject({
      method: 'POST',
      url: '/v1/eta',
      headers: bearer(DEMO_KEY),
      payload: ORDER,
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const { prep_seconds: prep, travel_seconds: travel } = body.components;
    expect(body.degraded).toBe(true);
    expect(body.eta_seconds).toBeGreaterThanOrEqual(travel);
    expect(Math.abs(body.eta_seconds - (prep + travel))).toBeLessThanOrEqual(1);
    expect(body.range_seconds[0]).toBeGreaterThan(0);
    expect(body.range_seconds[0]).toBeLessThanOrEqual(body.eta_seconds);
    expect(body.range_seconds[1]).toBeGreaterThanOrEqual(body.eta_seconds);
    const metrics = await app.proc.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(
      /etaserve_degraded_predictions_total\{[^}]*reason="model_implausible"[^}]*\} [1-9]/,
    );
  });
});
