import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/simulator/index.js';
import {
  FAULT_KINDS,
  faultCase,
  HANG_MS,
  internalHeaders,
  nextCase,
  rawExchange,
  requestBytes,
  settledHeapBytes,
  startTopology,
  summary,
  type FaultCase,
  type Fixtures,
  type FuzzProcess,
  type FuzzTopology,
  type HttpCase,
  type Listener,
  type RawOutcome,
} from './support/fuzz.js';
import { DEMO_KEY } from './support/processes.js';
import { ensureTemplate } from './support/template.js';

/**
 * Fuzz over real HTTP, on every route of fastify's own route table, public and internal, on the processes that
 * serve them: an all-in-one process, and store, geo, predictor and gateway processes wired as `etaserve up` wires
 * them. Bodies start valid (an ETA, a batch, events of every type, an OIP request, a store, a key) so that deep code
 * runs, then are mutated; path parameters are real ids or mutated ones; transport faults go over raw sockets.
 *
 * Asserted: no 5xx, ever; every request gets an answer or a closed socket within the server timeouts plus a margin
 * (`HANG_MS`); the heap does not grow by more than `MAX_HEAP_GROWTH` between a warm-up batch and the end. Seeded:
 * a failure prints its seed and case; `FUZZ_SEED=<seed>` replays the run.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
/** Cases per route that takes a body, and per route that does not. */
const CASES_BODY = 40;
const CASES_PLAIN = 5;
/** The share of each route's cases run before the heap baseline. */
const WARMUP_SHARE = 0.2;
const MAX_HEAP_GROWTH = 64 * 1024 * 1024;
const FAULT_ROUNDS = 2;
const FAULT_CONCURRENCY = 48;

let topology: FuzzTopology;
const fixtures = new Map<FuzzProcess, Fixtures>();

interface Failure {
  line: string;
}
const failures: Failure[] = [];
const stats = {
  cases: 0,
  statuses: new Map<number, number>(),
  closedUnanswered: 0,
  badShape: new Map<string, number>(),
  /** Per route (`listener METHOD url`): answers with 2xx, so a route that valid bodies never get through shows. */
  ok: new Map<string, number>(),
  /** Per transport fault: what came back. */
  faults: new Map<string, Map<string, number>>(),
};
const bump = <K>(m: Map<K, number>, k: K): void => void m.set(k, (m.get(k) ?? 0) + 1);
let heapBefore = 0;

async function api(listener: Listener, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${listener.port}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${DEMO_KEY}`,
      ...internalHeaders(),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

const hasRoute = (p: FuzzProcess, method: string, url: string): Listener | undefined =>
  p.routes.find((r) => r.method === method && r.url === url)?.listener;

async function fixturesFor(p: FuzzProcess, fallback?: Fixtures): Promise<Fixtures> {
  const fx: Fixtures = {
    storeIds: fallback?.storeIds ?? [],
    modelVersions: fallback?.modelVersions ?? ['v1'],
    modelName: p.config.predictor.modelName,
    keyIds: fallback?.keyIds ?? ['abcdefgh'],
    predictKey: fallback?.predictKey ?? DEMO_KEY,
    oipWidth: 12,
    storeLocations: fallback?.storeLocations ?? new Map(),
  };
  const publicStores = hasRoute(p, 'GET', '/v1/stores');
  const stores = publicStores ?? hasRoute(p, 'GET', '/internal/store/stores');
  if (stores) {
    const path = publicStores ? '/v1/stores' : '/internal/store/stores';
    const page = (await api(stores, 'GET', `${path}?limit=10000`)) as {
      stores: Array<{ store_id: string; location: { lat: number; lng: number } }>;
    };
    fx.storeIds = page.stores.map((s) => s.store_id).sort();
    fx.storeLocations = new Map(page.stores.map((s) => [s.store_id, s.location]));
  }
  const models = hasRoute(p, 'GET', '/v1/admin/models');
  if (models) {
    const list = (await api(models, 'GET', '/v1/admin/models')) as { models: Array<{ version: string }> };
    fx.modelVersions = list.models.map((m) => m.version);
  }
  const keys = hasRoute(p, 'POST', '/v1/admin/keys');
  if (keys) {
    const predict = (await api(keys, 'POST', '/v1/admin/keys', {
      name: 'fuzz predict',
      scopes: ['predict'],
    })) as {
      key: string;
    };
    fx.predictKey = predict.key;
    fx.keyIds = [];
    for (let i = 0; i < 4; i++) {
      const victim = (await api(keys, 'POST', '/v1/admin/keys', {
        name: `fuzz victim ${i}`,
        scopes: ['events'],
      })) as {
        info: { id: string };
      };
      fx.keyIds.push(victim.info.id);
    }
  }
  for (const url of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    const oip = hasRoute(p, 'GET', url);
    if (oip && url === '/v2/models/:name') {
      const meta = (await api(oip, 'GET', `/v2/models/${fx.modelName}`)) as {
        inputs: Array<{ shape: number[] }>;
      };
      fx.oipWidth = meta.inputs[0]?.shape[1] ?? fx.oipWidth;
    }
  }
  return fx;
}

beforeAll(async () => {
  await ensureTemplate();
  topology = await startTopology();
  const all = topology.processes.find((p) => p.name === 'all')!;
  const gateway = topology.processes.find((p) => p.name === 'gateway')!;
  fixtures.set(all, await fixturesFor(all));
  fixtures.set(gateway, await fixturesFor(gateway));
  for (const p of topology.processes)
    if (!fixtures.has(p)) fixtures.set(p, await fixturesFor(p, fixtures.get(gateway)));
}, 180_000);

afterAll(async () => {
  await topology?.stop();
});

function record(
  where: string,
  c: { n: number; kind: string; route: string },
  path: string,
  payload: string,
  out: RawOutcome,
): void {
  const method = path.split(' ')[0]!;
  for (const r of out.responses) {
    bump(stats.statuses, r.status);
    if (r.status < 300) bump(stats.ok, `${where} ${c.route}`);
    // HEAD answers have no body to hold the error.
    if (r.status >= 400 && r.status < 500 && method !== 'HEAD') {
      let shaped = false;
      try {
        const body = JSON.parse(r.body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } };
        shaped = typeof body.error?.code === 'string' && typeof body.error.message === 'string';
      } catch {
        // not JSON
      }
      if (!shaped) {
        bump(
          stats.badShape,
          `${r.status} ${c.route}${c.route.startsWith(`${method} `) ? '' : ` as ${method}`}`,
        );
      }
    }
  }
  const fivexx = out.responses.filter((r) => r.status >= 500);
  if (out.hung || fivexx.length > 0) {
    const what = out.hung
      ? `HANG (no answer, no close within ${HANG_MS} ms; answers so far: ${out.responses.map((r) => r.status).join(',') || 'none'})`
      : fivexx.map((r) => `${r.status} ${r.body.toString('utf8').slice(0, 200)}`).join(' | ');
    failures.push({
      line: `seed ${SEED} case ${c.n} [${where}] ${c.route} -> ${path.slice(0, 120)} (${c.kind}): ${what}\n    payload: ${payload}`,
    });
  }
  if (out.responses.length === 0 && out.closed && !out.hung) stats.closedUnanswered++;
}

interface Lane {
  where: string;
  listener: Listener;
  cases: HttpCase[];
}

function lanes(): Lane[] {
  const out: Lane[] = [];
  topology.processes.forEach((p, pi) => {
    const fx = fixtures.get(p)!;
    p.listeners.forEach((listener, li) => {
      const rng = new Rng(SEED + 1000 * pi + li);
      const random = (): number => rng.next();
      const routes = p.routes.filter((r) => r.listener === listener);
      const cases: HttpCase[] = [];
      routes.forEach((route) => {
        const methods = routes.filter((r) => r.url === route.url).map((r) => r.method);
        const takesBody = ['POST', 'PUT', 'PATCH'].includes(route.method);
        const count = takesBody ? CASES_BODY : route.method === 'HEAD' ? 2 : CASES_PLAIN;
        for (let i = 0; i < count; i++)
          cases.push(nextCase(route, methods, (pi * 10 + li) * 100_000 + cases.length, fx, random, i === 0));
      });
      // Interleaved, so that the warm-up batch touches every route and writes mix with reads.
      const shuffled = cases
        .map((c) => ({ c, k: random() }))
        .sort((a, b) => a.k - b.k)
        .map((x) => x.c);
      out.push({ where: `${p.name}/${listener.name}`, listener, cases: shuffled });
    });
  });
  return out;
}

async function runCase(lane: Lane, c: HttpCase): Promise<void> {
  const bytes = requestBytes(c.method, c.path, lane.listener.port, c.headers, c.body);
  const out = await rawExchange(lane.listener.port, { steps: [bytes], answers: 1 }, [c.method === 'HEAD']);
  stats.cases++;
  record(lane.where, c, `${c.method} ${c.path}`, summary(c), out);
}

describe('fuzz over real HTTP, every route of every listener', () => {
  it('mutated valid bodies, hostile params and credentials: no 5xx, no hang', async () => {
    const all = lanes();
    const routes = topology.processes.reduce((n, p) => n + p.routes.length, 0);
    const warm = all.map((l) => l.cases.slice(0, Math.ceil(l.cases.length * WARMUP_SHARE)));
    const main = all.map((l, i) => l.cases.slice(warm[i]!.length));
    const started = Date.now();
    await Promise.all(
      all.map(async (lane, i) => {
        for (const c of warm[i]!) await runCase(lane, c);
      }),
    );
    heapBefore = await settledHeapBytes();
    await Promise.all(
      all.map(async (lane, i) => {
        for (const c of main[i]!) await runCase(lane, c);
      }),
    );
    console.log(
      `fuzz: seed ${SEED}, ${stats.cases} cases on ${routes} routes of ${all.length} listeners in ${Date.now() - started} ms; ` +
        `statuses ${JSON.stringify(Object.fromEntries([...stats.statuses].sort((a, b) => a[0] - b[0])))}; ` +
        `closed without an answer: ${stats.closedUnanswered}` +
        (stats.badShape.size > 0
          ? `; 4xx not in the error shape: ${JSON.stringify(Object.fromEntries(stats.badShape))}`
          : ''),
    );
    // The fuzz reaches the handlers: every route that takes a body answered 2xx to some case.
    const neverOk = all.flatMap((lane) =>
      [...new Set(lane.cases.map((c) => c.route))]
        .filter((route) => !stats.ok.has(`${lane.where} ${route}`))
        .map((route) => `${lane.where} ${route}`),
    );
    console.log(`fuzz: routes that never answered 2xx: ${neverOk.join(', ') || 'none'}`);
    const deep = [
      'POST /v1/eta',
      'POST /v1/eta/batch',
      'POST /v1/events',
      'POST /v1/stores',
      'POST /v1/admin/keys',
      'POST /internal/store/features',
      'POST /internal/geo/trips',
      'POST /internal/predict/batch',
      'POST /v2/models/:name/infer',
    ];
    expect(neverOk.filter((r) => deep.some((d) => r.endsWith(` ${d}`)))).toEqual([]);
    expect(stats.cases).toBeGreaterThan(1500);
    expect(failures.map((f) => f.line)).toEqual([]);
    // Every refusal a client can read says what went wrong in the one error shape.
    expect(Object.fromEntries(stats.badShape)).toEqual({});
  }, 240_000);

  it('transport faults over raw sockets: no 5xx, every connection answered or closed within the timeouts', async () => {
    const before = failures.length;
    const cases: Array<{ where: string; listener: Listener; c: FaultCase }> = [];
    topology.processes.forEach((p, pi) => {
      p.listeners.forEach((listener, li) => {
        const rng = new Rng(SEED + 7 + 1000 * pi + li);
        const random = (): number => rng.next();
        const bodyRoutes = p.routes.filter(
          (r) => r.listener === listener && ['POST', 'PUT', 'PATCH'].includes(r.method),
        );
        if (bodyRoutes.length === 0) return;
        for (let round = 0; round < FAULT_ROUNDS; round++)
          for (const kind of FAULT_KINDS) {
            const route = bodyRoutes[Math.floor(random() * bodyRoutes.length)]!;
            const n = 9_000_000 + (pi * 10 + li) * 10_000 + cases.length;
            cases.push({
              where: `${p.name}/${listener.name}`,
              listener,
              c: faultCase(route, listener.port, n, fixtures.get(p)!, random, kind),
            });
          }
      });
    });
    const started = Date.now();
    for (let i = 0; i < cases.length; i += FAULT_CONCURRENCY) {
      await Promise.all(
        cases.slice(i, i + FAULT_CONCURRENCY).map(async ({ where, listener, c }) => {
          const out = await rawExchange(listener.port, c.script, c.heads);
          const seen = stats.faults.get(c.kind) ?? new Map<string, number>();
          stats.faults.set(c.kind, seen);
          const answers = out.responses.map((r) => r.status).join('+') || 'no answer';
          bump(seen, out.hung ? 'HANG' : `${answers}${out.closed ? ', closed' : ''}`);
          const first = c.script.steps.find((s): s is Buffer => Buffer.isBuffer(s));
          const shown = first ? JSON.stringify(first.toString('latin1').slice(0, 160)) : '';
          record(where, c, c.route, `${c.kind}: ${shown}`, out);
        }),
      );
    }
    console.log(
      `fuzz: ${cases.length} transport faults in ${Date.now() - started} ms:\n` +
        [...stats.faults]
          .map(([kind, seen]) => `  ${kind}: ${[...seen].map(([k, n]) => `${k} x${n}`).join('; ')}`)
          .join('\n'),
    );
    // Every listener still answers after all of it.
    for (const p of topology.processes)
      for (const l of p.listeners) {
        const res = await fetch(`http://127.0.0.1:${l.port}/healthz`, {
          signal: AbortSignal.timeout(HANG_MS),
        });
        expect(res.status, `${p.name}/${l.name} /healthz`).toBe(200);
      }
    expect(failures.slice(before).map((f) => f.line)).toEqual([]);
  }, 240_000);

  it('no memory growth: the heap after the main batch and the faults stays within a bound of the warm-up', async () => {
    expect(heapBefore).toBeGreaterThan(0);
    const after = await settledHeapBytes();
    console.log(
      `fuzz: heap ${(heapBefore / 1048576).toFixed(1)} MB after warm-up, ${(after / 1048576).toFixed(1)} MB at the end`,
    );
    expect(after - heapBefore).toBeLessThan(MAX_HEAP_GROWTH);
  }, 60_000);
});
