import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelRegistry } from '../src/registry/index.js';
import { ensureTemplate } from './support/template.js';
import { DEMO_KEY, postJson, startAll, type Platform } from './support/processes.js';
import { parisEvening } from './support/times.js';

let platform: Platform;

beforeAll(async () => {
  await ensureTemplate();
  platform = await startAll({
    ETASERVE_PREDICTOR_ALIAS_POLL_MS: '200',
    ETASERVE_ROLLOUT_CANARY_SHARE: '1',
    ETASERVE_ROLLOUT_DRIFT_MIN_ROWS: '20',
    ETASERVE_ROLLOUT_DRIFT_INTERVAL_MS: '200',
    // Every request reaches the predictor, so each one is a live row the drift monitor counts (a cached answer is
    // not): the test needs a known number of rows, not as many distinct cache keys as a loaded machine sends in time.
    ETASERVE_GATEWAY_RESPONSE_CACHE: 'false',
  });
}, 240_000);
afterAll(async () => {
  await platform?.stop();
});

const order = (i: number, items = 2): Record<string, unknown> => ({
  store_id: 's-0001',
  destination: { lat: 48.84 + (i % 40) * 1e-3, lng: 2.33 + Math.floor(i / 40) * 1e-3 },
  items,
  subtotal: items * 12,
  ordered_at: parisEvening(30),
});

async function metrics(): Promise<string> {
  return (await fetch(`${platform.url}/metrics`)).text();
}

describe('canary and drift on a running platform', () => {
  it('answers from the challenger for the canary share, and says so in model_version', async () => {
    const registry = openModelRegistry({
      database: 'sqlite',
      sqliteFile: path.join(platform.dataDir, 'etaserve.db'),
    });
    const { golden, ...artifact } = (await registry.loadArtifact('v1')) as { golden: never };
    const challenger = await registry.register(artifact, { source: 'test:canary', golden });
    await registry.close();
    const res = await fetch(`${platform.url}/v1/admin/models/${challenger.version}/challenger`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEMO_KEY}` },
    });
    expect(res.status).toBe(200);
    const deadline = Date.now() + 20_000;
    let served = '';
    for (let i = 0; served !== challenger.version; i++) {
      if (Date.now() > deadline) throw new Error(`the canary never answered (last: ${served})`);
      served = (await postJson(`${platform.url}/v1/eta`, order(i))).body.model_version;
      if (served !== challenger.version) await new Promise((r) => setTimeout(r, 200));
    }
    // canaryShare 1: every answer now comes from the challenger
    for (let i = 100; i < 105; i++)
      expect((await postJson(`${platform.url}/v1/eta`, order(i))).body.model_version).toBe(
        challenger.version,
      );
    expect(await metrics()).toMatch(/etaserve_predictions_by_alias_total\{alias="challenger"[^}]*\} [1-9]/);
  }, 60_000);

  it('measures PSI per feature against the training data and marks the model stale when baskets drift', async () => {
    // Baskets of 400 items: nothing like the training data.
    const deadline = Date.now() + 45_000;
    for (let i = 0; ; i++) {
      await postJson(`${platform.url}/v1/eta`, order(200 + i, 400));
      const text = await metrics();
      if (/etaserve_model_stale(\{[^}]*\})? 1$/m.test(text)) {
        const psi = /etaserve_feature_psi\{feature="items"[^}]*\} (\S+)/.exec(text);
        expect(Number(psi?.[1])).toBeGreaterThan(0.25);
        return;
      }
      if (Date.now() > deadline)
        throw new Error(
          `the model was never marked stale:\n${text
            .split('\n')
            .filter((l) => /psi|stale/.test(l))
            .join('\n')}`,
        );
    }
  }, 90_000);
});
