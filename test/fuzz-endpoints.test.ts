import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeProcess, type ComposedProcess } from '../src/app/compose.js';
import { loadAppConfig } from '../src/app/config.js';
import { prepareFirstRun } from '../src/app/first-run.js';
import { createLogger } from '../src/platform/index.js';
import { Rng } from '../src/simulator/index.js';
import { DEMO_KEY, freshDataDir } from './support/processes.js';
import { ensureTemplate } from './support/template.js';

/**
 * Thousands of malformed requests at every public endpoint with a body, in process (`app.inject`). Each must get a
 * 4xx that names the field (or a 2xx when a mutation happens to be valid), never a 5xx, never a crash. The generator
 * is seeded: a failure prints its seed and case number, and `FUZZ_SEED=<seed>` replays it.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const CASES_PER_ENDPOINT = 400;

const VALID: Record<string, Record<string, unknown>> = {
  '/v1/eta': {
    store_id: 's-0001',
    destination: { lat: 48.864, lng: 2.352 },
    items: 2,
    subtotal: 20,
    ordered_at: '2026-11-26T19:05:00+01:00',
  },
  '/v1/eta/batch': { store_ids: ['s-0001', 's-0002'], destination: { lat: 48.864, lng: 2.352 } },
  store: {
    store_id: 'fuzz-1',
    name: 'Fuzz',
    location: { lat: 48.857, lng: 2.35 },
    category: 'pizza',
    timezone: 'Europe/Paris',
    opening_hours: {},
    delivery_radius_km: 4,
    prep_profile: { mean_seconds: 900, p90_seconds: 1500 },
  },
};

type Case = { payload: string | Buffer; contentType: string; what: string };

function generator(random: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
  const weird = (): unknown =>
    pick([
      () => null,
      () => true,
      () => -1,
      () => 1e308,
      () => -0,
      () => 91,
      () => -181,
      () => 'x'.repeat(Math.floor(random() * 5000)),
      () => '',
      () => '\u0000\ud800',
      () => [],
      () => ({}),
      () => Array.from({ length: 5000 }, (_, i) => i),
      () => Array.from({ length: 200 }, () => 's-0001'),
      () => ({ lat: 1e6, lng: -1e6 }),
      () => ({ lat: 'north', lng: null }),
      () => ({ __proto__: { admin: true } }),
      () => Number.MAX_SAFE_INTEGER * 4,
      () => '2026-13-45T99:99:99Z',
    ])();
  const mutate = (body: Record<string, unknown>): Record<string, unknown> => {
    const out = structuredClone(body);
    const keys = Object.keys(out);
    const n = 1 + Math.floor(random() * 3);
    for (let i = 0; i < n; i++) {
      const r = random();
      if (r < 0.5) out[pick(keys)] = weird();
      else if (r < 0.7) delete out[pick(keys)];
      else if (r < 0.85) out[`extra_${i}`] = weird();
      else {
        const k = pick(keys);
        if (typeof out[k] === 'object' && out[k] !== null && !Array.isArray(out[k]))
          (out[k] as Record<string, unknown>)[pick(['lat', 'lng', 'x'])] = weird();
        else out[k] = weird();
      }
    }
    return out;
  };
  /** JSON text that JSON.stringify cannot make: NaN, Infinity, huge exponents, deep nesting, broken syntax. */
  const raw = (valid: Record<string, unknown>): string => {
    const text = JSON.stringify(valid);
    return pick([
      () => text.replace(/:\s*[-0-9.]+/, ': NaN'),
      () => text.replace(/:\s*[-0-9.]+/, ': Infinity'),
      () => text.replace(/:\s*[-0-9.]+/, ': 1e400'),
      () => text.replace(/:\s*[-0-9.]+/, ': -1e400'),
      () => text.slice(0, Math.floor(random() * text.length)),
      () => `{"store_id": ${nested(1 + Math.floor(random() * 20_000))}}`,
      () => nested(1 + Math.floor(random() * 50_000)),
      () => `{"a":`.repeat(1000) + '1' + '}'.repeat(1000),
      () => '',
      () => 'null',
      () => '[]',
      () => '"string"',
      () => text + text,
      () => `{${'"k":1,'.repeat(20_000)}"k":2}`,
    ])();
  };
  return (valid: Record<string, unknown>): Case => {
    const r = random();
    if (r < 0.45)
      return { payload: JSON.stringify(mutate(valid)), contentType: 'application/json', what: 'mutated' };
    if (r < 0.75) return { payload: raw(valid), contentType: 'application/json', what: 'raw' };
    if (r < 0.85) {
      const bytes = Buffer.from(JSON.stringify(valid));
      for (let i = 0; i < 4; i++)
        bytes[Math.floor(random() * bytes.length)] = pick([0xff, 0xfe, 0xc0, 0x80, 0xed, 0x00]);
      return { payload: bytes, contentType: 'application/json', what: 'bad utf-8' };
    }
    return {
      payload: pick([JSON.stringify(valid), 'a=1&b=2', '', '--x\r\n\r\n--x--']),
      contentType: pick([
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/json; charset=latin1',
        '',
      ]),
      what: 'wrong content type',
    };
  };
}

let proc: ComposedProcess;
let cleanup: () => void;

beforeAll(async () => {
  await ensureTemplate();
  const data = freshDataDir();
  cleanup = data.cleanup;
  const config = loadAppConfig({
    env: {
      ETASERVE_DATA_DIR: data.dir,
      ETASERVE_DEMO_API_KEY: DEMO_KEY,
      ETASERVE_GATEWAY_PORT: '0',
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
      ETASERVE_GATEWAY_MAX_IN_FLIGHT: '100000',
    },
  });
  await prepareFirstRun(config, { trainModel: true, seedStores: true }, { log: () => undefined });
  proc = await composeProcess(config, ['all'], createLogger({ level: 'silent' }));
  await proc.manager.startAll();
}, 120_000);

afterAll(async () => {
  await proc?.manager.stopAll();
  cleanup?.();
});

describe('malformed requests at every public endpoint', () => {
  it('get a 4xx naming the field, never a 5xx', async () => {
    const spec = (await proc.app.inject({ method: 'GET', url: '/docs/json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const endpoints: Array<{
      method: 'POST' | 'PUT' | 'PATCH';
      url: string;
      valid: Record<string, unknown>;
    }> = [];
    for (const [path, methods] of Object.entries(spec.paths)) {
      const url = path.replace(/\{[^}]+\}/g, (m) => (m.includes('name') ? 'eta' : 'fuzz-1'));
      for (const method of ['post', 'put', 'patch'] as const) {
        if (!methods[method]) continue;
        endpoints.push({ method: method.toUpperCase() as 'POST', url, valid: VALID[path] ?? VALID.store! });
      }
    }
    expect(endpoints.map((e) => e.url)).toEqual(
      expect.arrayContaining(['/v1/eta', '/v1/eta/batch', '/v1/stores']),
    );
    const seeded = new Rng(SEED);
    const random = (): number => seeded.next();
    const next = generator(random);
    const failures: string[] = [];
    let n = 0;
    for (const endpoint of endpoints) {
      for (let i = 0; i < CASES_PER_ENDPOINT; i++, n++) {
        const c = next(endpoint.valid);
        const res = await proc.app.inject({
          method: endpoint.method,
          url: endpoint.url,
          payload: c.payload,
          headers: {
            authorization: `Bearer ${DEMO_KEY}`,
            ...(c.contentType ? { 'content-type': c.contentType } : {}),
          },
        });
        const body = res.body.startsWith('{')
          ? (JSON.parse(res.body) as { error?: { field?: string } })
          : undefined;
        const fine =
          res.statusCode < 300 ||
          (res.statusCode >= 400 && res.statusCode < 500 && typeof body?.error?.field === 'string');
        if (!fine && failures.length < 10) {
          const shown =
            typeof c.payload === 'string' ? c.payload.slice(0, 200) : c.payload.toString('hex').slice(0, 200);
          failures.push(
            `seed ${SEED} case ${n} ${endpoint.method} ${endpoint.url} (${c.what}, ${c.contentType}): ${res.statusCode} ${res.body.slice(0, 200)}\n  body: ${shown}`,
          );
        }
      }
    }
    expect(failures).toEqual([]);
    expect(n).toBeGreaterThanOrEqual(2000);
    // Still alive and answering after all of it.
    const ok = await proc.app.inject({
      method: 'POST',
      url: '/v1/eta',
      payload: VALID['/v1/eta'],
      headers: { authorization: `Bearer ${DEMO_KEY}` },
    });
    expect(ok.statusCode).toBe(200);
  }, 240_000);
});
