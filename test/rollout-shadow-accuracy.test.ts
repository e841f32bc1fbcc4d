import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelRegistry } from '../src/registry/index.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { ensureTemplate } from './support/template.js';
import { DEMO_KEY, postJson, startAll, startCluster, waitFor, type Platform } from './support/processes.js';

const SHIFT_S = 120;

const SHADOW_ENV = {
  ETASERVE_PREDICTOR_ALIAS_POLL_MS: '200',
  ETASERVE_ROLLOUT_SHADOW_SAMPLE_RATE: '1',
  ETASERVE_EVENTS_POLL_MS: '100',
};

interface Shape {
  name: string;
  /** The platform, and where the predictor's own metrics are served; undefined when a binary is missing. */
  start(): Promise<{ platform: Platform; predictorUrl: string } | undefined>;
}

let redis: RedisServer | undefined;
const SHAPES: Shape[] = [
  {
    name: 'one process, segment-file log',
    start: async () => {
      const platform = await startAll(SHADOW_ENV);
      return { platform, predictorUrl: platform.url };
    },
  },
  {
    // Predictor processes have no log of their own: they append shadow answers to the shared Redis Streams log.
    name: 'local cluster, Redis Streams log',
    start: async () => {
      redis = await startRedis();
      if (!redis) return undefined;
      const platform = await startCluster(1, {
        ...SHADOW_ENV,
        ETASERVE_EVENTS_BACKEND: 'redis',
        ETASERVE_EVENTS_REDIS_URL: redis.url,
      });
      const predictorUrl = /^\s+predictor-1\s+(http:\/\/\S+)/m.exec(platform.running.output())?.[1];
      if (!predictorUrl) throw new Error(`no predictor-1 line in\n${platform.running.output()}`);
      return { platform, predictorUrl };
    },
  },
];

describe.each(SHAPES)('shadow answers in the accuracy join ($name)', (shape) => {
  let platform: Platform | undefined;
  let predictorUrl = '';

  beforeAll(async () => {
    await ensureTemplate();
    const started = await shape.start();
    platform = started?.platform;
    predictorUrl = started?.predictorUrl ?? '';
  }, 240_000);
  afterAll(async () => {
    await platform?.stop();
    await redis?.stop();
  });

  const admin = async (method: 'GET' | 'POST', route: string): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${platform!.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${DEMO_KEY}` },
    });
    return { status: res.status, body: await res.json() };
  };
  const metrics = async (url: string): Promise<string> => (await fetch(`${url}/metrics`)).text();

  it('gives the challenger’s MAE on the same delivered order as the champion’s', async (ctx) => {
    if (!platform) return ctx.skip();
    const { url, dataDir } = platform;
    // A challenger that answers every order exactly two minutes longer than the champion.
    const registry = openModelRegistry({
      database: 'sqlite',
      sqliteFile: path.join(dataDir, 'etaserve.db'),
    });
    const { golden, ...artifact } = (await registry.loadArtifact('v1')) as {
      golden: { rows: number[][]; predictions: number[][] };
      outputs: Array<{ baseScore: number; offset?: unknown }>;
    };
    // An offset output (a non-crossing quantile) is measured from its anchor: it moves with the median.
    for (const o of artifact.outputs) if (o.offset === undefined) o.baseScore += SHIFT_S;
    const shifted = { ...golden, predictions: golden.predictions.map((p) => p.map((v) => v + SHIFT_S)) };
    const challenger = await registry.register(artifact, { source: 'test:shadow', golden: shifted });
    await registry.close();
    expect((await admin('POST', `/v1/admin/models/${challenger.version}/challenger`)).status).toBe(200);
    await waitFor(
      async () =>
        (await metrics(predictorUrl)).includes(
          `etaserve_model_challenger_info{version="${challenger.version}"`,
        ),
      20_000,
      'the predictor to load the challenger',
    );

    // The join matches on store, destination and time, whatever the time: take the next hour the store is open.
    const request = {
      store_id: 's-0001',
      destination: { lat: 48.8611, lng: 2.3377 },
      items: 2,
      subtotal: 24,
      ordered_at: '',
    };
    let quote = { status: 0, body: undefined as any };
    for (let hour = 0; hour < 24 && quote.status !== 200; hour++) {
      request.ordered_at = new Date(Date.now() + hour * 3_600_000).toISOString();
      quote = await postJson(`${url}/v1/eta`, request);
    }
    expect(quote.status).toBe(200);
    const createdMs = Date.parse(request.ordered_at);
    expect(quote.body.model_version).toBe('v1');
    await waitFor(
      async () => /etaserve_shadow_predictions_total\{[^}]*\} [1-9]/.test(await metrics(predictorUrl)),
      20_000,
      'the shadow prediction',
    );
    // Delivered well after both answers, so both errors are negative and differ by the shift.
    const actualS = quote.body.eta_seconds + 1800;
    const ingest = await postJson(`${url}/v1/events`, [
      {
        event_id: 'shadow-test-created',
        type: 'order.created',
        occurred_at: request.ordered_at,
        order_id: 'shadow-test-order',
        store_id: request.store_id,
        destination: request.destination,
        items: request.items,
        subtotal: request.subtotal,
        quoted_eta_seconds: quote.body.eta_seconds,
        quoted_range_seconds: quote.body.range_seconds,
        promised_at: quote.body.promised_at,
        model_version: quote.body.model_version,
      },
      {
        event_id: 'shadow-test-delivered',
        type: 'order.delivered',
        occurred_at: new Date(createdMs + actualS * 1000).toISOString(),
        order_id: 'shadow-test-order',
        store_id: request.store_id,
      },
    ]);
    expect(ingest.status).toBeLessThan(300);

    let rows: Array<{
      model_version: string;
      compared_with: string;
      deliveries: number;
      mae_seconds: number;
    }> = [];
    await waitFor(
      async () => {
        rows = (await admin('GET', '/v1/admin/accuracy')).body.shadow_by_model_version ?? [];
        return rows.length === 2;
      },
      20_000,
      'the shadowed order in the accuracy join',
    );
    const champion = rows.find((r) => r.model_version === 'v1')!;
    const shadow = rows.find((r) => r.model_version === challenger.version)!;
    expect(champion).toMatchObject({ compared_with: challenger.version, deliveries: 1 });
    expect(shadow).toMatchObject({ compared_with: 'v1', deliveries: 1 });
    expect(shadow.mae_seconds).toBeCloseTo(champion.mae_seconds - SHIFT_S, 0);
    expect(await metrics(url)).toMatch(
      new RegExp(
        `etaserve_online_shadow_mae_seconds\\{model_version="${challenger.version}",compared_with="v1"[^}]*\\} ${shadow.mae_seconds}`,
      ),
    );
  }, 90_000);
});
