import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEY, postJson, startAll, startCluster, waitFor, type Platform } from './support/processes.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { ensureTemplate } from './support/template.js';
import { kill9 } from './fault-traffic.js';

/**
 * Live state and answers are cached for minutes and dropped when the store changes. Here the caches live ten
 * minutes, so only those announcements can make the same order's next answer follow order events (live state) or a
 * profile write, in the embedded shape, in a local cluster over Redis and in one without Redis, where the other
 * processes follow the store process's bus over HTTP (even were they to miss it, answers would live ten minutes).
 */
const LONG_TTLS = {
  ETASERVE_CACHE_TTL_MS_STORE_LIVE: '600000',
  ETASERVE_CACHE_TTL_MS_STORE_PROFILES: '600000',
  ETASERVE_CACHE_TTL_MS_RESPONSES: '600000',
  ETASERVE_PREDICTOR_FEATURE_DEADLINE_MS: '2000',
  ETASERVE_TOPOLOGY_REMOTE_TIMEOUT_MS: '2000',
  ETASERVE_GATEWAY_PREDICTOR_TIMEOUT_MS: '5000',
  ETASERVE_GATEWAY_REQUEST_DEADLINE_MS: '5000',
};
const DESTINATION = { lat: 48.864, lng: 2.352 };
const MIN = 60_000;

let redis: RedisServer | undefined;
const shapes: Record<string, Platform | undefined> = {};

beforeAll(async () => {
  await ensureTemplate();
  redis = await startRedis();
  const [all, up, upWithoutRedis] = await Promise.all([
    startAll(LONG_TTLS),
    redis ? startCluster(2, { ...LONG_TTLS, ETASERVE_CACHE_REDIS_URL: redis.url }) : undefined,
    startCluster(1, {
      ...LONG_TTLS,
      ETASERVE_CACHE_UNHEARD_TTL_MS_STORE_LIVE: '600000',
      ETASERVE_CACHE_UNHEARD_TTL_MS_RESPONSES: '600000',
      // The store process is killed below: `up` starts it again at once.
      ETASERVE_UP_RESTART_DELAY_MS: '500',
    }),
  ]);
  shapes.all = all;
  shapes.up = up;
  shapes.upWithoutRedis = upWithoutRedis;
}, 360_000);

afterAll(async () => {
  await Promise.all(Object.values(shapes).map((p) => p?.stop()));
  await redis?.stop();
}, 60_000);

async function patchStore(url: string, storeId: string, body: unknown): Promise<number> {
  const res = await fetch(`${url}/v1/stores/${storeId}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_KEY}` },
    body: JSON.stringify(body),
  });
  await res.text();
  return res.status;
}

/** Twelve orders accepted an hour and a half ago, each ready after `prepSeconds`. */
function slowKitchen(storeId: string, prepSeconds: number): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = [];
  const now = Date.now();
  for (let i = 0; i < 12; i++) {
    const accepted = now - (90 - i) * MIN;
    const base = { order_id: `${storeId}-slow-${i}`, store_id: storeId };
    events.push({
      event_id: `${storeId}-acc-${i}`,
      type: 'order.accepted',
      occurred_at: new Date(accepted).toISOString(),
      ...base,
    });
    events.push({
      event_id: `${storeId}-rdy-${i}`,
      type: 'order.ready',
      occurred_at: new Date(accepted + prepSeconds * 1000).toISOString(),
      ...base,
    });
  }
  return events;
}

async function createStore(url: string, storeId: string): Promise<void> {
  const created = await postJson(`${url}/v1/stores`, {
    store_id: storeId,
    name: 'Changing Kitchen',
    location: { lat: 48.857, lng: 2.35 },
    category: 'pizza',
    timezone: 'Europe/Paris',
    opening_hours: {},
    delivery_radius_km: 8,
    prep_profile: { mean_seconds: 900, p90_seconds: 1500 },
  });
  expect(created.status).toBe(201);
}

describe.each([
  ['embedded (etaserve start)', 'all'],
  ['local cluster over Redis (etaserve up)', 'up'],
  ['local cluster without Redis (etaserve up)', 'upWithoutRedis'],
])('store changes reach cached answers: %s', (_name, shape) => {
  const storeId = `changes-${shape}`;
  // The same order every time (ordered now): a cached answer would hide any change.
  const order = { store_id: storeId, destination: DESTINATION, items: 2, subtotal: 20 };
  const eta = async (url: string): Promise<{ prep: number; distance: number }> => {
    const res = await postJson(`${url}/v1/eta`, order);
    if (res.status !== 200) throw new Error(`eta answered ${res.status}: ${JSON.stringify(res.body)}`);
    return { prep: res.body.components.prep_seconds, distance: res.body.components.distance_km };
  };

  it('follows order events and a profile write, well within the TTLs', async (ctx) => {
    const platform = shapes[shape];
    if (!platform) return ctx.skip();
    await createStore(platform.url, storeId);
    const before = await eta(platform.url);
    expect(await eta(platform.url)).toEqual(before);

    const target = Math.round(before.prep + 1500);
    const ingested = await postJson(`${platform.url}/v1/events`, slowKitchen(storeId, target));
    expect(ingested.body).toMatchObject({ accepted: 24, rejected: [] });
    let after = before;
    await waitFor(
      async () => (after = await eta(platform.url)).prep > before.prep + 1000,
      30_000,
      `prep_seconds to move from ${before.prep} towards ${target}`,
    );

    // The store moves about 1.5 km south: the same order is now that much further away.
    expect(await patchStore(platform.url, storeId, { location: { lat: 48.844, lng: 2.35 } })).toBe(200);
    await waitFor(
      async () => (await eta(platform.url)).distance > after.distance + 1,
      30_000,
      `distance_km to follow the store's new location (was ${after.distance})`,
    );
  }, 90_000);
});

describe('local cluster without Redis, after its store process crashed', () => {
  it('answers follow store changes again once `up` has restarted it (the others follow its new bus)', async (ctx) => {
    const platform = shapes.upWithoutRedis;
    if (!platform) return ctx.skip();
    const killed = platform.pids.get('store');
    kill9(killed);
    await waitFor(
      () => /store restarted \(pid \d+\)/.test(platform.running.output()),
      60_000,
      'the store process to be restarted',
    );
    const storeId = 'changes-after-restart';
    // The restarted process opens its catalog before it serves: creating a store works once it does.
    await waitFor(
      async () =>
        await createStore(platform.url, storeId).then(
          () => true,
          () => false,
        ),
      60_000,
      'the restarted store process to take writes',
    );
    const order = { store_id: storeId, destination: DESTINATION, items: 2, subtotal: 20 };
    const prep = async (): Promise<number> => {
      const res = await postJson(`${platform.url}/v1/eta`, order);
      if (res.status !== 200) throw new Error(`eta answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.components.prep_seconds as number;
    };
    const before = await prep();
    expect(await prep()).toBe(before);
    expect(
      (await postJson(`${platform.url}/v1/events`, slowKitchen(storeId, before + 1500))).body,
    ).toMatchObject({
      accepted: 24,
    });
    // Cached for ten minutes whether heard or not: only the new bus can move it.
    await waitFor(
      async () => (await prep()) > before + 1000,
      30_000,
      `prep_seconds to move from ${before} once the store changed`,
    );
  }, 150_000);
});
