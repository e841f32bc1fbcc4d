import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { composeProcess, type ComposedProcess, type Listener } from '../src/app/compose.js';
import { loadAppConfig } from '../src/app/config.js';
import { StartupError } from '../src/app/internal-auth.js';
import type { Scope } from '../src/gateway/index.js';
import { createLogger, routesOf, type HttpServer } from '../src/platform/index.js';

/**
 * Reads fastify's own route table (routesOf, recorded from onRoute: not the docs, which hide routes) of every
 * listener of every target, and asks each route without credentials, with the wrong ones and with the right ones.
 * The table of docs/security.md is generated from the same data and must match: `UPDATE_SECURITY_DOC=1` rewrites it.
 */

const TOKEN = 'routes-test-internal-token-0123456789';
const NOWHERE = 'http://127.0.0.1:9';
const REMOTE_STORE_GEO = { ETASERVE_TOPOLOGY_STORE_URL: NOWHERE, ETASERVE_TOPOLOGY_GEO_URL: NOWHERE };
const REMOTE_ALL = {
  ...REMOTE_STORE_GEO,
  ETASERVE_TOPOLOGY_PREDICTOR_URLS: NOWHERE,
  ETASERVE_TOPOLOGY_ORDERS_URL: NOWHERE,
};

interface Shape {
  targets: string[];
  env: Record<string, string>;
  listeners: Array<Listener['name']>;
}

/** Every target, with the topology that makes the modules it does not run remote. */
const SHAPES: Record<string, Shape> = {
  all: { targets: ['all'], env: {}, listeners: ['public'] },
  gateway: { targets: ['gateway'], env: REMOTE_ALL, listeners: ['public'] },
  'gateway+store (internal port)': {
    targets: ['gateway', 'store'],
    env: {
      ETASERVE_TOPOLOGY_GEO_URL: NOWHERE,
      ETASERVE_TOPOLOGY_PREDICTOR_URLS: NOWHERE,
      ETASERVE_INTERNAL_PORT: '18199',
    },
    listeners: ['public', 'internal'],
  },
  predictor: { targets: ['predictor'], env: REMOTE_STORE_GEO, listeners: ['internal'] },
  store: { targets: ['store'], env: {}, listeners: ['internal'] },
  geo: { targets: ['geo'], env: {}, listeners: ['internal'] },
  pipeline: { targets: ['pipeline'], env: REMOTE_STORE_GEO, listeners: ['internal'] },
  orders: { targets: ['orders'], env: REMOTE_STORE_GEO, listeners: ['internal'] },
};

/** Open on every listener, for probes, scrapers and browsers: no key, no token. */
const OPEN_EVERYWHERE = new Set(['/healthz', '/readyz', '/metrics']);
/** Open on the public listener only: the API docs and the console's static pages (their data needs a key). */
const OPEN_PUBLIC = new Set([
  '/docs',
  '/docs/',
  '/docs/json',
  '/docs/yaml',
  '/docs/static/*',
  '/docs/static/index.html',
  '/docs/static/swagger-initializer.js',
  '/',
  '/live',
  '/models',
  '/accuracy',
  '/orders',
  '/map',
  '/try',
  '/favicon.svg',
  '/assets/*',
]);

/** The scopes a public route accepts (any one of them). Every public route that is not open must be here. */
function scopesOf(method: string, url: string): Scope[] {
  if (url === '/v1/eta' || url === '/v1/eta/batch') return ['predict'];
  if (url === '/v1/events') return ['events'];
  if (url.startsWith('/v1/orders/')) return ['predict'];
  if (url.startsWith('/v1/admin/')) return ['admin'];
  if (url.startsWith('/v1/stores'))
    return method === 'GET' || method === 'HEAD' ? ['predict', 'admin'] : ['admin'];
  if (url.startsWith('/v2/')) return ['predict'];
  throw new Error(`no scope known for ${method} ${url}: add it to the routes test and docs/security.md`);
}

const ALL_SCOPES: Scope[] = ['predict', 'events', 'admin'];
const HAS_BODY = new Set(['POST', 'PUT', 'PATCH']);
/** A concrete URL for a pattern: every parameter a plausible value. */
const concrete = (url: string): string =>
  url
    .replace(/:store_id/g, 's-0001')
    .replace(/:version/g, '1')
    .replace(/:name/g, 'eta')
    .replace(/:id/g, 'abcdefgh')
    .replace(/\*$/, 'x.js');

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function compose(shape: Shape, extraEnv: Record<string, string> = {}): Promise<ComposedProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'etaserve-routes-'));
  const config = loadAppConfig({
    env: {
      ETASERVE_DATA_DIR: dir,
      ETASERVE_INTERNAL_TOKEN: TOKEN,
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
      ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
      // The processes of these shapes share this one data directory (their event log files).
      ETASERVE_TOPOLOGY_SHARED_DISK: 'true',
      ...shape.env,
      ...extraEnv,
    },
  });
  const proc = await composeProcess(config, shape.targets, createLogger({ level: 'silent' }));
  // Routes answer through inject once ready; nothing listens and no service starts.
  for (const l of proc.listeners) await l.app.ready();
  cleanups.push(async () => {
    for (const l of proc.listeners) await l.app.close();
    await proc.manager.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
  return proc;
}

interface Answer {
  statusCode: number;
  code: string | undefined;
}

async function ask(
  app: HttpServer,
  method: string,
  url: string,
  headers: Record<string, string>,
): Promise<Answer> {
  // A body that is not even JSON: every auth answer must come before the body is read.
  const res = await app.inject({
    method: method as 'GET',
    url: concrete(url),
    headers: HAS_BODY.has(method) ? { ...headers, 'content-type': 'application/json' } : headers,
    ...(HAS_BODY.has(method) ? { payload: '{"not json' } : {}),
  });
  let code: string | undefined;
  try {
    code = (res.json() as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { statusCode: res.statusCode, code };
}

/** What docs/security.md lists: one row per route and listener, with the targets that serve it. */
const docRows = new Map<
  string,
  { method: string; url: string; listener: string; targets: Set<string>; auth: string }
>();
function record(listener: string, target: string, method: string, url: string, auth: string): void {
  if (method === 'HEAD') return; // every GET answers HEAD too; the doc says so once
  const key = `${url} ${method} ${listener}`;
  const row = docRows.get(key) ?? { method, url, listener, targets: new Set<string>(), auth };
  row.targets.add(target.replace(/ \(.*\)$/, ''));
  docRows.set(key, row);
}

describe.each(Object.entries(SHAPES))('routes of --target %s', (label, shape) => {
  it('has the listeners its shape needs, and keys of each scope where there is a gateway', async () => {
    const proc = await compose(shape);
    expect(proc.listeners.map((l) => l.name)).toEqual(shape.listeners);
    expect(proc.app).toBe(proc.listeners[0]!.app);
    expect(proc.port).toBe(proc.listeners[0]!.port);
    // Only the loopback `--target all` is a demo shape.
    expect(proc.gateway?.demoApiKey !== undefined).toBe(label === 'all');

    const keys = new Map<Scope, string>();
    if (proc.gateway)
      for (const scope of ALL_SCOPES) keys.set(scope, (await proc.gateway.keys.create(scope, [scope])).key);

    for (const listener of proc.listeners) {
      const routes = routesOf(listener.app);
      expect(routes.length).toBeGreaterThan(0);
      for (const { method, url } of routes) {
        const where = label;
        const what = `${listener.name} ${method} ${url} (${label})`;
        if (OPEN_EVERYWHERE.has(url)) {
          record(listener.name, where, method, url, 'none (probes)');
          continue;
        }
        if (listener.name === 'public') {
          expect(url.startsWith('/internal'), what).toBe(false);
          if (OPEN_PUBLIC.has(url)) {
            record(listener.name, where, method, url, 'none (docs, console pages)');
            continue;
          }
          const accepted = scopesOf(method, url);
          record(listener.name, where, method, url, `API key: ${accepted.join(' or ')}`);
          const none = await ask(listener.app, method, url, {});
          expect(none.statusCode, `${what} without a key`).toBe(401);
          // The internal token is no key: it opens nothing on the public listener.
          const token = await ask(listener.app, method, url, { 'x-etaserve-internal-token': TOKEN });
          expect(token.statusCode, `${what} with the internal token`).toBe(401);
          const lacking = ALL_SCOPES.find((s) => !accepted.includes(s))!;
          const wrong = await ask(listener.app, method, url, {
            authorization: `Bearer ${keys.get(lacking)}`,
          });
          expect(wrong.statusCode, `${what} with a ${lacking} key`).toBe(403);
          // With the right key a malformed body reaches the parser (400): the key was all that was missing. Only
          // routes with a body: a GET would run its handler on services this test does not start (or stream).
          if (HAS_BODY.has(method)) {
            const right = await ask(listener.app, method, url, {
              authorization: `Bearer ${keys.get(accepted[0]!)}`,
            });
            expect(right.statusCode, `${what} with a ${accepted[0]} key`).toBe(400);
          }
        } else {
          record(listener.name, where, method, url, 'internal token');
          const none = await ask(listener.app, method, url, {});
          expect(none.statusCode, `${what} without the token`).toBe(401);
          const wrong = await ask(listener.app, method, url, {
            'x-etaserve-internal-token': `${TOKEN}x`,
          });
          expect(wrong.statusCode, `${what} with a wrong token`).toBe(403);
          // An API key is no token.
          if (proc.gateway) {
            const keyed = await ask(listener.app, method, url, {
              authorization: `Bearer ${keys.get('admin')}`,
            });
            expect(keyed.statusCode, `${what} with an admin key`).toBe(401);
          }
          // With the token a malformed body reaches the parser (400): the token was all that was missing.
          if (HAS_BODY.has(method)) {
            const right = await ask(listener.app, method, url, { 'x-etaserve-internal-token': TOKEN });
            expect(right.statusCode, `${what} with the token`).toBe(400);
          }
        }
      }
    }
  });
});

describe('listener rules', () => {
  it('one process serves no internal route at all, and OIP only behind a predict key', async () => {
    const proc = await compose(SHAPES.all!);
    const urls = routesOf(proc.app).map((r) => r.url);
    expect(urls.filter((u) => u.startsWith('/internal'))).toEqual([]);
    expect(urls).toContain('/v2/models/:name/infer');
    const res = await proc.app.inject({
      method: 'POST',
      url: '/v2/models/eta/infer',
      headers: { 'content-type': 'application/json' },
      payload: { inputs: [] },
    });
    expect(res.statusCode).toBe(401);
  });

  it('a predict-scope key posting an invalid body to an admin route gets 403, not 400', async () => {
    const proc = await compose(SHAPES.all!);
    const { key } = await proc.gateway!.keys.create('reader', ['predict']);
    for (const [method, url] of [
      ['POST', '/v1/admin/keys'],
      ['POST', '/v1/stores'],
      ['PATCH', '/v1/stores/s-0001'],
      ['POST', '/v1/admin/models/rollback'],
    ] as const) {
      const res = await proc.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: '{"scopes": 42',
      });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json().error.code).toBe('forbidden');
    }
  });

  it('refuses internal routes on a non-loopback address without a token', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'etaserve-routes-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = loadAppConfig({
      env: { ETASERVE_DATA_DIR: dir, ETASERVE_HOST: '0.0.0.0', ETASERVE_TOPOLOGY_SHARED_DISK: 'true' },
    });
    await expect(composeProcess(config, ['store'], createLogger({ level: 'silent' }))).rejects.toThrow(
      /internal token.*ETASERVE_INTERNAL_TOKEN/,
    );
    // One process on any address serves no internal route, so it needs no token.
    const proc = await compose(SHAPES.all!, { ETASERVE_HOST: '0.0.0.0', ETASERVE_INTERNAL_TOKEN: '' });
    expect(proc.listeners.map((l) => l.name)).toEqual(['public']);
  });

  it('reads the token from a secret file, and refuses an empty one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'etaserve-token-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'token');
    writeFileSync(file, `${TOKEN}-from-file\n`);
    const proc = await compose(SHAPES.store!, {
      ETASERVE_HOST: '0.0.0.0',
      ETASERVE_INTERNAL_TOKEN_FILE: file,
    });
    const ask = (token: string): Promise<{ statusCode: number }> =>
      proc.app.inject({
        method: 'POST',
        url: '/internal/store/lookup',
        headers: { 'x-etaserve-internal-token': token, 'content-type': 'application/json' },
        payload: '{',
      });
    expect((await ask(`${TOKEN}-from-file`)).statusCode).toBe(400);
    expect((await ask(TOKEN)).statusCode).toBe(403);
    writeFileSync(file, '\n');
    await expect(compose(SHAPES.store!, { ETASERVE_INTERNAL_TOKEN_FILE: file })).rejects.toThrow(/is empty/);
  });

  it('has a demo key only in the loopback demo shapes', async () => {
    const open = await compose(SHAPES.all!, { ETASERVE_HOST: '0.0.0.0' });
    expect(open.gateway!.demoApiKey).toBeUndefined();
    await expect(
      compose(SHAPES.all!, {
        ETASERVE_HOST: '0.0.0.0',
        ETASERVE_DEMO_API_KEY: 'es_demo0000_' + 'x'.repeat(32),
      }),
    ).rejects.toThrow(StartupError);
    await expect(
      compose(SHAPES.gateway!, { ETASERVE_DEMO_API_KEY: 'es_demo0000_' + 'x'.repeat(32) }),
    ).rejects.toThrow(/only for the demo shapes/);
  });
});

describe('gateway start', () => {
  it('stops on a damaged key file, naming it, instead of answering every request 400', async () => {
    const proc = await compose(SHAPES.gateway!);
    await proc.gateway!.keys.create('app', ['predict']);
    const file = proc.gateway!.keys.file!;
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 40));
    await expect(proc.gateway!.service.start!(new AbortController().signal)).rejects.toThrow(file);
  });
});

describe('docs/security.md', () => {
  it('lists every route, its listener and its auth, as the route table says', () => {
    const BEGIN = '<!-- routes:begin (generated by test/routes.test.ts) -->';
    const END = '<!-- routes:end -->';
    const rows = [...docRows.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(
        ([, r]) =>
          `| \`${r.method}\` | \`${r.url}\` | ${r.listener} | ${[...r.targets].sort().join(', ')} | ${r.auth} |`,
      );
    const table = [
      BEGIN,
      '| method | route | listener | targets | auth |',
      '|---|---|---|---|---|',
      ...rows,
      END,
    ].join('\n');
    const file = path.resolve('docs/security.md');
    const text = readFileSync(file, 'utf8');
    const start = text.indexOf(BEGIN);
    const end = text.indexOf(END);
    expect(start, 'docs/security.md has the generated routes table').toBeGreaterThanOrEqual(0);
    const current = text.slice(start, end + END.length);
    if (process.env.UPDATE_SECURITY_DOC === '1' && current !== table)
      writeFileSync(file, text.slice(0, start) + table + text.slice(end + END.length));
    else expect(current, 'run UPDATE_SECURITY_DOC=1 npx vitest run test/routes.test.ts').toBe(table);
  });
});
