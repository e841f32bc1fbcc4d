import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEY, postJson, startAll, startCluster, type Platform } from './support/processes.js';
import { ensureTemplate } from './support/template.js';
import { nextLocalIso } from './support/times.js';

/**
 * The same end-to-end suite against both shapes: every module in one process (`etaserve start`), and the local
 * cluster (`etaserve up --predictors 2`: real child processes on real ports). Both serve the template's model.
 */
// Times relative to now (the API refuses orders far from it), on a Thursday as the fixtures' opening hours expect.
const OPEN = nextLocalIso('Europe/Paris', 19, 5, { weekday: 3 });
const EARLY = nextLocalIso('Europe/Paris', 5, 0, { weekday: 3 });
/** `2026-11-26T` and `+01:00` of a local ISO time, for patterns of answers on the same local day. */
const dayOf = (iso: string): string => iso.slice(0, 11);
const offsetOf = (iso: string): string => iso.slice(-6).replace('+', '\\+');

/**
 * Sends a request over a raw socket and reads the answer until the server closes the connection. A server may answer
 * before the body is sent and close (413 on the length alone): write errors are not failures, the answer read is.
 */
function rawExchange(url: string, head: string, body: string): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), 20_000);
    socket.on('close', () => {
      clearTimeout(timer);
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no answer before the socket closed: ${JSON.stringify(data)}`));
      const text = data.slice(end + 4);
      resolve({ status: Number(data.split(' ')[1]), body: text.startsWith('{') ? JSON.parse(text) : text });
    });
    socket.write(head);
    socket.write(body);
  });
}
const NEAR = { lat: 48.864, lng: 2.352 };

const shapes: Record<string, Platform | undefined> = { all: undefined, up: undefined };

beforeAll(async () => {
  await ensureTemplate();
  // This suite tests what the API answers, not the feature deadline: on a loaded 2-core CI box a 50 ms deadline
  // can pass under two clusters' start-up, and the answer would (rightly) be degraded.
  const env = {
    ETASERVE_PREDICTOR_FEATURE_DEADLINE_MS: '2000',
    ETASERVE_TOPOLOGY_REMOTE_TIMEOUT_MS: '2000',
    ETASERVE_GATEWAY_PREDICTOR_TIMEOUT_MS: '5000',
    ETASERVE_GATEWAY_REQUEST_DEADLINE_MS: '5000',
  };
  [shapes.all, shapes.up] = await Promise.all([startAll(env), startCluster(2, env)]);
}, 240_000);

afterAll(async () => {
  const codes = await Promise.all(Object.values(shapes).map((p) => p?.stop()));
  expect(codes).toEqual([0, 0]);
}, 60_000);

const newStore = (storeId: string): Record<string, unknown> => ({
  store_id: storeId,
  name: 'Test Kitchen',
  location: { lat: 48.857, lng: 2.35 },
  category: 'pizza',
  timezone: 'Europe/Paris',
  opening_hours: {},
  delivery_radius_km: 4,
  prep_profile: { mean_seconds: 900, p90_seconds: 1500 },
});

const get = async (url: string, key: string | null = DEMO_KEY): Promise<{ status: number; body: any }> => {
  const res = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
};

describe.each(['all', 'up'])('the public API on %s', (shape) => {
  const url = (): string => shapes[shape]!.url;

  it('answers an ETA with a range, a promise in the store timezone and its components', async () => {
    const { status, body } = await postJson(`${url()}/v1/eta`, {
      store_id: 's-0001',
      destination: NEAR,
      items: 3,
      subtotal: 24.5,
      ordered_at: OPEN,
    });
    expect(status).toBe(200);
    expect(body.model_version).toBe('v1');
    expect(body.degraded).toBe(false);
    const [low, high] = body.range_seconds;
    expect(low).toBeLessThanOrEqual(body.eta_seconds);
    expect(high).toBeGreaterThanOrEqual(body.eta_seconds);
    expect(body.eta_seconds).toBeGreaterThan(10 * 60);
    expect(body.eta_seconds).toBeLessThan(120 * 60);
    expect(body.promised_at).toMatch(new RegExp(`^${dayOf(OPEN)}(19|20):\\d\\d:00${offsetOf(OPEN)}$`));
    expect(Date.parse(body.promised_at)).toBeGreaterThanOrEqual(Date.parse(OPEN) + body.eta_seconds * 1000);
    expect(body.components.travel_seconds).toBeGreaterThan(0);
    expect(body.components.prep_seconds).toBeGreaterThan(0);
    expect(body.request_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('answers a list page in order, with per-store errors', async () => {
    const { status, body } = await postJson(`${url()}/v1/eta/batch`, {
      destination: NEAR,
      store_ids: ['s-0002', 'no-such-store', 's-0001'],
      ordered_at: OPEN,
    });
    expect(status).toBe(200);
    expect(body.results.map((r: { store_id: string }) => r.store_id)).toEqual([
      's-0002',
      'no-such-store',
      's-0001',
    ]);
    expect(body.results[1].error.code).toBe('store_not_found');
    expect(body.results[0].eta_seconds).toBeGreaterThan(0);
    const single = await postJson(`${url()}/v1/eta`, {
      store_id: 's-0001',
      destination: NEAR,
      ordered_at: OPEN,
    });
    expect(body.results[2].eta_seconds).toBe(single.body.eta_seconds);
  });

  it('says when a closed store opens, and refuses a destination outside the delivery radius', async () => {
    const closed = await postJson(`${url()}/v1/eta`, {
      store_id: 's-0001',
      destination: NEAR,
      ordered_at: EARLY,
    });
    expect(closed.status).toBe(409);
    expect(closed.body.error.code).toBe('store_closed');
    expect(closed.body.error.opens_at).toMatch(
      new RegExp(`^${dayOf(EARLY)}\\d\\d:\\d\\d:00${offsetOf(EARLY)}$`),
    );
    const far = await postJson(`${url()}/v1/eta`, {
      store_id: 's-0001',
      destination: { lat: 48.6, lng: 2.35 },
      ordered_at: OPEN,
    });
    expect(far.status).toBe(422);
    expect(far.body.error.code).toBe('out_of_delivery_area');
    const unknown = await postJson(`${url()}/v1/eta`, {
      store_id: 'nope',
      destination: NEAR,
      ordered_at: OPEN,
    });
    expect(unknown.status).toBe(404);
  });

  it('answers bad input on every endpoint with a 400 that names the field', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['/v1/eta', { destination: NEAR }, 'store_id'],
      ['/v1/eta', { store_id: 's-0001', destination: { lat: 91, lng: 2 } }, 'destination.lat'],
      ['/v1/eta', { store_id: 's-0001', destination: { lat: '48.8', lng: 2 } }, 'destination.lat'],
      ['/v1/eta', { store_id: 's-0001', destination: NEAR, ordered_at: 'yesterday' }, 'ordered_at'],
      ['/v1/eta', { store_id: 's-0001', destination: NEAR, items: -1 }, 'items'],
      ['/v1/eta', { store_id: 's-0001', destination: NEAR, extra: 1 }, 'extra'],
      ['/v1/eta', '{"store_id": ', 'body'],
      ['/v1/eta/batch', { destination: NEAR, store_ids: [] }, 'store_ids'],
      [
        '/v1/eta/batch',
        { destination: NEAR, store_ids: Array.from({ length: 101 }, (_, i) => `s-${i}`) },
        'store_ids',
      ],
      ['/v1/eta/batch', { destination: { lat: 1 }, store_ids: ['s-0001'] }, 'destination.lng'],
      ['/v1/stores', { ...newStore('x y'), store_id: 'x y' }, 'store_id'],
      ['/v1/stores', { ...newStore('ok-id'), location: { lat: 48.8, lng: 200 } }, 'location.lng'],
      [
        '/v2/models/eta/infer',
        { inputs: [{ name: 'input-0', shape: [1, 3], datatype: 'FP64', data: [1, 2, 3] }] },
        'inputs.0.shape',
      ],
      ['/v2/models/eta/infer', { inputs: 'nope' }, 'inputs'],
    ];
    // In the cluster the Open Inference Protocol is served by the predictors, not the gateway.
    for (const [path, body, field] of cases.filter(([p]) => shape === 'all' || !p.startsWith('/v2'))) {
      const res = await postJson(`${url()}${path}`, body);
      expect({ path, body, status: res.status }).toEqual({ path, body, status: 400 });
      expect(res.body.error.field, `${path} ${JSON.stringify(body)}`).toBe(field);
    }
    const badLimit = await get(`${url()}/v1/stores?limit=0`);
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error.field).toBe('limit');
  });

  it('refuses missing and wrong keys, and oversized bodies', async () => {
    const none = await postJson(`${url()}/v1/eta`, { store_id: 's-0001', destination: NEAR }, null);
    expect(none.status).toBe(401);
    expect(none.body.error.field).toBe('authorization');
    const wrong = await postJson(
      `${url()}/v1/eta`,
      { store_id: 's-0001', destination: NEAR },
      'es_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    );
    expect(wrong.status).toBe(401);
    // A length over the 1 MiB bound with the start of a body: the server answers 413 on the length alone, so the
    // check never races the server closing the connection while the client is still writing 2 MB.
    const huge = await rawExchange(
      url(),
      `POST /v1/eta HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${DEMO_KEY}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n',
      `{"store_id":"s-0001","pad":"${'x'.repeat(1000)}`,
    );
    expect(huge.status).toBe(413);
    expect(huge.body.error).toMatchObject({ code: 'payload_too_large', field: 'body' });
  });

  it('keeps the store catalog, and serves ETAs for a store created through the API', async () => {
    const store = newStore(`e2e-${shape}`);
    const created = await postJson(`${url()}/v1/stores`, store);
    expect(created.status).toBe(201);
    const read = await get(`${url()}/v1/stores/${store.store_id}`);
    expect(read.body.name).toBe('Test Kitchen');
    const page = await get(`${url()}/v1/stores?limit=2`);
    expect(page.body.stores).toHaveLength(2);
    expect(typeof page.body.next_cursor).toBe('string');
    const eta = await postJson(`${url()}/v1/eta`, {
      store_id: store.store_id,
      destination: NEAR,
      ordered_at: OPEN,
    });
    expect(eta.status).toBe(200);
    expect(eta.body.components.distance_km).toBeGreaterThan(0.5);
  });

  it('serves health, readiness, metrics, OpenAPI docs and the Open Inference Protocol', async () => {
    expect((await get(`${url()}/healthz`)).status).toBe(200);
    expect((await get(`${url()}/readyz`)).body).toEqual({ status: 'ready', ready: true, reasons: [] });
    const metrics = await get(`${url()}/metrics`);
    expect(metrics.body).toMatch(
      /etaserve_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/eta",method="POST",status_code="200"/,
    );
    const openapi = await get(`${url()}/docs/json`);
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining(['/v1/eta', '/v1/eta/batch', '/v1/stores']),
    );
    expect(Object.keys(openapi.body.paths).some((p) => p.startsWith('/internal'))).toBe(false);
    if (shape === 'all') {
      const meta = await get(`${url()}/v2/models/eta`);
      expect(meta.body.outputs.map((o: { name: string }) => o.name)).toEqual(['p10', 'p50', 'p90']);
    }
  });
});

describe('both shapes', () => {
  it('give the same answers for the same orders', async () => {
    for (const storeId of ['s-0001', 's-0002', 's-0003', 's-0010', 's-0042']) {
      const body = { store_id: storeId, destination: NEAR, items: 2, subtotal: 18, ordered_at: OPEN };
      const [a, b] = await Promise.all([
        postJson(`${shapes.all!.url}/v1/eta`, body),
        postJson(`${shapes.up!.url}/v1/eta`, body),
      ]);
      expect(b.status).toBe(a.status);
      const { request_id: _a, ...restA } = a.body;
      const { request_id: _b, ...restB } = b.body;
      expect(restB).toEqual(restA);
    }
  });
});
