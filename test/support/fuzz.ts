import { connect } from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { composeProcess, type ComposedProcess } from '../../src/app/compose.js';
import { loadAppConfig, type AppConfig } from '../../src/app/config.js';
import { prepareFirstRun } from '../../src/app/first-run.js';
import { createLogger, routesOf, type HttpServer, type RouteEntry } from '../../src/platform/index.js';
import { isoInTimezone } from '../../src/gateway/promise.js';
import * as httpClient from '../../src/platform/http-client.js';
import { DEMO_KEY, freePort, freshDataDir } from './processes.js';
import { minutesAgoIso, nextLocalMs } from './times.js';

/** Answers that never end: their headers are the answer. */
const STREAMS = /event-stream|application\/x-ndjson/;

/**
 * Support for the fuzz suites (test/fuzz-*.test.ts): processes composed by `composeProcess` in the shapes that
 * serve each route, listening on loopback; a raw HTTP/1.1 client over `net.connect` (so wrong lengths, slow bodies
 * and broken framing can be sent); and a heap probe.
 */

/** Every timeout of the HTTP servers is set to this in the fuzz processes, where the config has them. */
export const SERVER_TIMEOUT_MS = 1000;
/** A request that has neither an answer nor a closed socket by then is a hang. */
export const HANG_MS = SERVER_TIMEOUT_MS + 7000;
/** Shared by the split processes, once the platform has an internal token (see `internalHeaders`). */
export const INTERNAL_TOKEN = 'fuzz-internal-token-0123456789abcdef0123456789abcdef';

export interface Listener {
  name: 'public' | 'internal';
  app: HttpServer;
  port: number;
  host: string;
}

/**
 * The listeners of a composed process. Until `ComposedProcess.listeners` exists, its one server is the public
 * listener; then this is one line: `return composed.listeners` (the port is read back from the bound socket, since
 * the fuzz processes listen on port 0 or free ports).
 */
export function listenersOf(composed: ComposedProcess): Listener[] {
  const declared = (composed as { listeners?: Listener[] }).listeners ?? [
    { name: 'public' as const, app: composed.app, port: composed.port, host: '127.0.0.1' },
  ];
  return declared.map((l) => {
    const address = l.app.server.address();
    return { ...l, port: typeof address === 'object' && address ? address.port : l.port };
  });
}

/**
 * Headers that authenticate a request to an internal listener: `INTERNAL_TOKEN` (configured by `fuzzEnv`) under the
 * header src/platform/http-client.ts names; none while the platform has no internal token.
 */
export function internalHeaders(wrong = false): Record<string, string> {
  const header = (httpClient as Record<string, unknown>).INTERNAL_TOKEN_HEADER;
  if (typeof header !== 'string') return {};
  return { [header]: wrong ? `${INTERNAL_TOKEN.slice(0, -1)}x` : INTERNAL_TOKEN };
}

export interface FuzzProcess {
  /** `all`, `store`, `geo`, `predictor`, `gateway` */
  name: string;
  composed: ComposedProcess;
  config: AppConfig;
  listeners: Listener[];
  routes: Array<RouteEntry & { listener: Listener }>;
}

/** The environment of every fuzz process: the demo key, no simulated traffic, no admission or deadline pressure. */
function fuzzEnv(dataDir: string, extra: Record<string, string>): Record<string, string> {
  return {
    ETASERVE_DATA_DIR: dataDir,
    ETASERVE_DEMO_API_KEY: DEMO_KEY,
    ETASERVE_LOG_LEVEL: 'silent',
    ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
    ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
    ETASERVE_GATEWAY_MAX_IN_FLIGHT: '100000',
    ETASERVE_GATEWAY_BATCH_MAX_IN_FLIGHT: '100000',
    // All processes share this worker's event loop: a remote call must not time out because a neighbour is busy
    // parsing a deep body. Deadlines are not what this suite tests.
    ETASERVE_TOPOLOGY_REMOTE_TIMEOUT_MS: '20000',
    ETASERVE_GATEWAY_PREDICTOR_TIMEOUT_MS: '20000',
    ETASERVE_GATEWAY_REQUEST_DEADLINE_MS: '30000',
    ETASERVE_PIPELINE_SCHEDULE: '',
    ETASERVE_INTERNAL_TOKEN: INTERNAL_TOKEN,
    ...extra,
  };
}

/**
 * Short server timeouts, wherever the platform config has them: every `...TimeoutMs` of `platform.http` (header,
 * body, request, keep-alive) becomes `SERVER_TIMEOUT_MS`.
 */
function withShortTimeouts(config: AppConfig): AppConfig {
  const http = (config.platform as Record<string, unknown>).http;
  if (http && typeof http === 'object') {
    for (const [key, value] of Object.entries(http as Record<string, unknown>))
      if (typeof value === 'number' && /timeout/i.test(key))
        (http as Record<string, unknown>)[key] = SERVER_TIMEOUT_MS;
  }
  return config;
}

async function compose(name: string, targets: string[], env: Record<string, string>): Promise<FuzzProcess> {
  const config = withShortTimeouts(loadAppConfig({ env }));
  // `localCluster`: the split processes are `etaserve up`'s children on one machine, where the demo key exists.
  // (Called loosely so this also runs against a composeProcess without that option.)
  const compose4 = composeProcess as (...args: unknown[]) => Promise<ComposedProcess>;
  const composed = await compose4(config, targets, createLogger({ level: 'silent' }), { localCluster: true });
  await composed.manager.startAll();
  const listeners = listenersOf(composed);
  const routes = listeners.flatMap((listener) => routesOf(listener.app).map((r) => ({ ...r, listener })));
  return { name, composed, config, listeners, routes };
}

export interface FuzzTopology {
  processes: FuzzProcess[];
  stop(): Promise<void>;
}

/**
 * The shapes that serve every route: one all-in-one process (the public API with everything in process), and a
 * split deployment as `etaserve up` makes it (store, geo, a predictor reaching them over HTTP, a gateway reaching
 * all three), so each internal route is fuzzed on the process that serves it.
 */
export async function startTopology(): Promise<FuzzTopology> {
  const processes: FuzzProcess[] = [];
  const cleanups: Array<() => void> = [];
  const stop = async (): Promise<void> => {
    for (const p of [...processes].reverse()) await p.composed.manager.stopAll().catch(() => undefined);
    for (const c of cleanups) c();
  };
  try {
    const single = freshDataDir();
    cleanups.push(single.cleanup);
    const singleEnv = fuzzEnv(single.dir, { ETASERVE_GATEWAY_PORT: '0' });
    await prepareFirstRun(
      loadAppConfig({ env: singleEnv }),
      { trainModel: true, seedStores: true },
      { log: () => undefined },
    );
    processes.push(await compose('all', ['all'], singleEnv));

    const shared = freshDataDir();
    cleanups.push(shared.cleanup);
    const [storePort, geoPort, predictorPort] = [await freePort(), await freePort(), await freePort()];
    const url = (port: number): string => `http://127.0.0.1:${port}`;
    // One data directory for the four processes, as `etaserve up` says to its children (topology.sharedDisk).
    const base = (extra: Record<string, string>): Record<string, string> =>
      fuzzEnv(shared.dir, { ETASERVE_TOPOLOGY_SHARED_DISK: 'true', ...extra });
    await prepareFirstRun(
      loadAppConfig({ env: base({}) }),
      { trainModel: true, seedStores: true },
      { log: () => undefined },
    );
    processes.push(await compose('store', ['store'], base({ ETASERVE_STORE_PORT: String(storePort) })));
    processes.push(await compose('geo', ['geo'], base({ ETASERVE_GEO_PORT: String(geoPort) })));
    const remotes = {
      ETASERVE_TOPOLOGY_STORE_URL: url(storePort),
      ETASERVE_TOPOLOGY_GEO_URL: url(geoPort),
    };
    processes.push(
      await compose(
        'predictor',
        ['predictor'],
        base({ ...remotes, ETASERVE_PREDICTOR_PORT: String(predictorPort) }),
      ),
    );
    processes.push(
      await compose(
        'gateway',
        ['gateway'],
        base({
          ...remotes,
          ETASERVE_TOPOLOGY_PREDICTOR_URLS: url(predictorPort),
          ETASERVE_GATEWAY_PORT: '0',
        }),
      ),
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { processes, stop };
}

/** The heap in use after full collections (V8's gc, exposed at run time here since the worker has no --expose-gc). */
export async function settledHeapBytes(): Promise<number> {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

/** One HTTP response parsed off a raw socket. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawOutcome {
  responses: RawResponse[];
  /** The server closed (or reset) the connection. */
  closed: boolean;
  /** Neither every expected answer nor a close within the hang bound. */
  hung: boolean;
  error?: string;
  ms: number;
}

/**
 * What to write on the socket, in steps: bytes, a pause, or the client closing its side (abrupt close mid-body).
 * `answers`: the outcome is complete once this many responses arrived (else when the server closes).
 */
export interface RawScript {
  steps: Array<Buffer | { pauseMs: number } | { destroy: true } | { trickle: Buffer; everyMs: number }>;
  answers?: number;
}

/** Parses every complete response in `buf`; `head` marks responses to HEAD requests (no body), in order. */
export function parseResponses(
  buf: Buffer,
  heads: boolean[] = [],
): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = buf.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? NaN);
    if (!Number.isFinite(status)) break;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let p = end + 4;
    const noBody = heads[responses.length] === true || status === 204 || status === 304 || status < 200;
    if (noBody) {
      responses.push({ status, headers, body: Buffer.alloc(0) });
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (buf.length < p + n) break;
      responses.push({ status, headers, body: buf.subarray(p, p + n) });
      p += n;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const eol = buf.indexOf('\r\n', p);
        if (eol < 0) break;
        const size = parseInt(buf.subarray(p, eol).toString('latin1'), 16);
        if (!Number.isFinite(size)) break;
        if (buf.length < eol + 2 + size + 2) break;
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        p = eol + 2 + size + 2;
        if (size === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        // An event stream (SSE, or the cache bus's NDJSON) never ends: its headers are the answer.
        if (STREAMS.test(headers['content-type'] ?? ''))
          responses.push({ status, headers, body: Buffer.concat(parts) });
        break;
      }
      responses.push({ status, headers, body: Buffer.concat(parts) });
    } else {
      // Delimited by the close: complete only once the server closed; the caller decides.
      if (STREAMS.test(headers['content-type'] ?? ''))
        responses.push({ status, headers, body: buf.subarray(p) });
      break;
    }
    at = p;
  }
  return { responses, rest: buf.subarray(at) };
}

/** Runs `script` on a fresh connection to `port` and reports what came back within `HANG_MS`. */
export function rawExchange(
  port: number,
  script: RawScript,
  heads: boolean[] = [],
  hangMs = HANG_MS,
): Promise<RawOutcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let done = false;
    let clientClosed = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (closed: boolean, hung: boolean, error?: string): void => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const { responses, rest } = parseResponses(all, heads);
      // A close-delimited last body.
      if (closed && rest.length > 0) {
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(rest.toString('latin1', 0, 20));
        if (m) responses.push({ status: Number(m[1]), headers: {}, body: rest });
      }
      resolve({ responses, closed, hung, ms: Date.now() - started, ...(error ? { error } : {}) });
    };
    timers.push(setTimeout(() => finish(false, true), hangMs));
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (script.answers !== undefined) {
        const { responses } = parseResponses(Buffer.concat(chunks), heads);
        if (responses.length >= script.answers) finish(false, false);
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // A reset after the client's own abrupt close, or the server resetting a connection it refused: a close.
      finish(true, false, clientClosed ? undefined : e.code);
    });
    socket.on('close', () => finish(true, false));
    const run = async (): Promise<void> => {
      for (const step of script.steps) {
        if (done) return;
        if (Buffer.isBuffer(step)) {
          if (!socket.write(step)) await new Promise<void>((r) => socket.once('drain', r));
        } else if ('pauseMs' in step) {
          await new Promise<void>((r) => timers.push(setTimeout(r, step.pauseMs)));
        } else if ('destroy' in step) {
          clientClosed = true;
          // The server must cope; nothing comes back on a socket we destroyed.
          socket.destroy();
          finish(true, false);
          return;
        } else {
          for (const byte of step.trickle) {
            if (done) return;
            socket.write(Buffer.from([byte]));
            await new Promise<void>((r) => timers.push(setTimeout(r, step.everyMs)));
          }
        }
      }
    };
    socket.once('connect', () => {
      run().catch((e: Error) => finish(true, false, e.message));
    });
  });
}

/** An HTTP/1.1 request's bytes. `body` undefined: no body and no length. */
export function requestBytes(
  method: string,
  path: string,
  port: number,
  headers: Record<string, string>,
  body?: Buffer,
  close = true,
): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, `host: 127.0.0.1:${port}`];
  if (close) lines.push('connection: close');
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (
    body !== undefined &&
    !Object.keys(headers).some((k) => /^(content-length|transfer-encoding)$/i.test(k))
  )
    lines.push(`content-length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body === undefined ? head : Buffer.concat([head, body]);
}

// ---------------------------------------------------------------------------------------------------------------
// Cases

/** What the fuzz knows of the running deployment, for path parameters and valid bodies. */
export interface Fixtures {
  storeIds: string[];
  modelVersions: string[];
  modelName: string;
  /** Key ids that may be rotated or revoked (never the demo key's). */
  keyIds: string[];
  /** A key with the predict scope only: the wrong scope for admin and events routes. */
  predictKey: string;
  oipWidth: number;
  /** Where each store is, so an order's destination is within its delivery radius. */
  storeLocations: Map<string, { lat: number; lng: number }>;
}

export type Random = () => number;

export interface HttpCase {
  n: number;
  kind: string;
  method: string;
  route: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

const pickOf =
  (random: Random) =>
  <T>(xs: readonly T[]): T =>
    xs[Math.floor(random() * xs.length)]!;

const nestedArrays = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
const nestedObjects = (depth: number, key = 'a'): string =>
  `{"${key}":`.repeat(depth) + '1' + '}'.repeat(depth);

/** Orders at tonight's dinner time in the simulated city (stores open), a few minutes apart. */
function orderedAtMs(random: Random): number {
  return nextLocalMs('Europe/Paris', 19, Math.floor(random() * 50));
}

function orderedAt(random: Random): string {
  return isoInTimezone(orderedAtMs(random), 'Europe/Paris');
}

function destination(random: Random, near?: { lat: number; lng: number }): { lat: number; lng: number } {
  const at = near ?? { lat: 48.8566, lng: 2.3522 };
  const spread = near ? 0.01 : 0.05;
  return {
    lat: Math.round((at.lat + (random() - 0.5) * spread) * 1e6) / 1e6,
    lng: Math.round((at.lng + (random() - 0.5) * spread * 1.4) * 1e6) / 1e6,
  };
}

function storeObject(id: string | undefined, random: Random): Record<string, unknown> {
  return {
    ...(id === undefined ? {} : { store_id: id }),
    name: `Fuzz ${id ?? 'put'}`,
    location: destination(random),
    category: pickOf(random)(['pizza', 'burger', 'asian', 'grocery']),
    timezone: 'Europe/Paris',
    opening_hours: random() < 0.5 ? {} : { mon: [['11:00', '14:30']], fri: [['18:00', '02:00']] },
    delivery_radius_km: 1 + Math.floor(random() * 8),
    prep_profile: { mean_seconds: 600, p90_seconds: 1200 },
  };
}

/** One event of each type, as the simulator's live traffic sends them. */
function eventBatch(n: number, random: Random, fx: Fixtures): Array<Record<string, unknown>> {
  const pick = pickOf(random);
  const store = pick(fx.storeIds.slice(0, 40));
  const order = `fz-o-${n}`;
  const base = { order_id: order, store_id: store };
  const at = (m: number): string => minutesAgoIso(m);
  const id = (i: number): string => `fz-e-${n}-${i}`;
  return [
    {
      event_id: id(0),
      type: 'order.created',
      occurred_at: at(40),
      ...base,
      customer_id: `fz-c-${n % 50}`,
      destination: destination(random),
      items: 2,
      subtotal: 23.5,
      quoted_eta_seconds: 1800,
      quoted_range_seconds: [1500, 2300],
      promised_at: at(10),
      model_version: fx.modelVersions[0] ?? 'v1',
    },
    { event_id: id(1), type: 'order.accepted', occurred_at: at(39), ...base },
    { event_id: id(2), type: 'order.ready', occurred_at: at(25), ...base },
    { event_id: id(3), type: 'order.picked_up', occurred_at: at(22), ...base, rider_id: 'live-r-001' },
    { event_id: id(4), type: 'order.delivered', occurred_at: at(8), ...base, rider_id: 'live-r-001' },
    { event_id: id(5), type: 'order.cancelled', occurred_at: at(5), ...base, reason: 'customer' },
    {
      event_id: id(6),
      type: 'rider.location',
      occurred_at: at(1),
      rider_id: 'live-r-002',
      ...(({ lat, lng }) => ({ lat, lng }))(destination(random)),
      available: true,
    },
    {
      event_id: id(7),
      type: 'app.store_list_viewed',
      occurred_at: at(2),
      customer_id: `fz-c-${n % 50}`,
      session_id: `fz-s-${n}`,
      store_id: store,
      stores_shown: fx.storeIds.slice(0, 5),
    },
  ];
}

function oipBody(rows: number, fx: Fixtures, random: Random): Record<string, unknown> {
  const data = Array.from({ length: rows * fx.oipWidth }, () => Math.round(random() * 1000) / 100);
  return {
    id: 'fuzz',
    inputs: [{ name: 'input-0', shape: [rows, fx.oipWidth], datatype: 'FP64', data }],
  };
}

/**
 * A valid body for the route (undefined: the route takes none), so that mutations start from what reaches the
 * handler.
 */
export function validBody(method: string, url: string, n: number, fx: Fixtures, random: Random): unknown {
  const pick = pickOf(random);
  const someStores = (k: number): string[] => Array.from({ length: k }, () => pick(fx.storeIds.slice(0, 60)));
  const store = pick(fx.storeIds.slice(0, 60));
  const order = {
    destination: destination(random, fx.storeLocations.get(store)),
    items: 1 + Math.floor(random() * 6),
    subtotal: Math.round(random() * 8000) / 100,
  };
  const key = `${method} ${url}`;
  switch (key) {
    case 'POST /v1/eta':
      return { store_id: pick(fx.storeIds.slice(0, 60)), ...order, ordered_at: orderedAt(random) };
    case 'POST /v1/eta/batch':
      return {
        store_ids: someStores(1 + Math.floor(random() * 12)),
        ...order,
        ordered_at: orderedAt(random),
      };
    case 'POST /v1/admin/explain':
      return { store_id: pick(fx.storeIds.slice(0, 60)), ...order, ordered_at: orderedAt(random) };
    case 'POST /internal/predict/batch':
      return { storeIds: someStores(1 + Math.floor(random() * 12)), ...order, orderedAtMs: Date.now() };
    case 'POST /internal/predict/explain':
      return { store_id: pick(fx.storeIds.slice(0, 60)), ...order, ordered_at_ms: Date.now() };
    case 'POST /v1/events':
      return eventBatch(n, random, fx);
    case 'POST /v1/admin/keys':
      return { name: `fuzz ${n}`, scopes: ['predict'], rate_limit_per_second: 1000 };
    case 'POST /v1/admin/keys/:id/rotate':
      return random() < 0.5 ? undefined : { overlap_seconds: 60 };
    case 'POST /v1/admin/webhooks':
      // A name that never resolves (RFC 6761): deliveries fail at once and nothing leaves the machine.
      return { url: `https://hooks-${n}.fuzz.invalid/eta`, events: ['order.late_risk', 'order.ready'] };
    case 'POST /v1/stores':
    case 'POST /internal/store/stores':
      return storeObject(`fz-${n}`, random);
    case 'PUT /v1/stores/:store_id':
    case 'PUT /internal/store/stores/:store_id':
      return storeObject(undefined, random);
    case 'PATCH /v1/stores/:store_id':
    case 'PATCH /internal/store/stores/:store_id':
      return pick([
        { delivery_radius_km: 5 },
        { name: `patched ${n}` },
        { prep_profile: { mean_seconds: 700, p90_seconds: 1300 } },
      ]);
    case 'POST /internal/store/features':
      return { store_ids: someStores(1 + Math.floor(random() * 20)), at_ms: Date.now() };
    case 'POST /internal/store/lookup':
      return { store_ids: someStores(1 + Math.floor(random() * 20)) };
    case 'POST /internal/store/bulk':
      return { stores: [0, 1, 2].map((i) => storeObject(`fz-b-${n}-${i}`, random)) };
    case 'POST /internal/geo/trips':
      return {
        destination: destination(random),
        origins: [0, 1, 2].map((i) => ({ id: `s-${i}`, location: destination(random), radius_km: 4 })),
        at_ms: Date.now(),
      };
    case 'POST /internal/geo/riders':
      return {
        riders: [0, 1].map((i) => ({
          rider_id: `fz-r-${i}`,
          ...destination(random),
          at_ms: Date.now(),
          available: i === 0,
        })),
      };
  }
  if (method === 'POST' && /^\/v2\/models\/.*\/infer$/.test(url))
    return oipBody(1 + Math.floor(random() * 4), fx, random);
  return undefined;
}

/** Path parameters: mostly real ids, sometimes mutated ones. */
export function fillPath(url: string, method: string, n: number, fx: Fixtures, random: Random): string {
  const pick = pickOf(random);
  const weirdSegment = (): string =>
    pick([
      '',
      '..',
      '%2e%2e',
      '%00',
      '%ff%fe',
      '%zz',
      '__proto__',
      'constructor',
      'x'.repeat(300),
      encodeURIComponent('😀'),
      'a%2Fb',
      '-1',
      '1e400',
      'NaN',
      ' ',
      'null',
    ]);
  const real = random() < 0.8;
  return url
    .replace(/:store_id/, () => {
      if (!real) return weirdSegment();
      // Writes go mostly to the fuzz's own stores, so the real ones keep answering ETAs deep into the run.
      if (method === 'DELETE' || method === 'PUT' || method === 'PATCH')
        return random() < 0.7 ? `fz-${Math.floor(random() * n + 1)}` : pick(fx.storeIds.slice(200));
      return pick(fx.storeIds);
    })
    .replace(/:version/, () =>
      real ? pick(fx.modelVersions) : pick(['v0', 'v999999', 'champion', weirdSegment()]),
    )
    .replace(/:name/, () => (real ? fx.modelName : pick(['other', weirdSegment()])))
    .replace(/:id/, () => (real ? pick(fx.keyIds) : pick(['abcdefgh', 'ABCDEFGH', weirdSegment()])))
    .replace(/\*$/, () =>
      pick(['index.js', 'index.css', 'missing.js', '../../package.json', '%2e%2e/%2e%2e/etc/passwd', '']),
    );
}

/** A query string for routes that take one. */
function queryFor(url: string, random: Random): string {
  const pick = pickOf(random);
  if (!/^\/(v1|internal\/store)\/(stores|admin\/stores\/traffic)$/.test(url))
    return random() < 0.1 ? '?x=1&x=2' : '';
  return pick([
    '',
    '?limit=10',
    '?limit=1&cursor=s-0100',
    '?limit=0',
    '?limit=-1',
    '?limit=1e9',
    '?limit=abc',
    '?cursor=' + 'z'.repeat(500),
    '?cursor=%ff',
    '?limit=1&limit=2',
    '?__proto__[x]=1',
    '?constructor=1',
  ]);
}

/** A value of a surprising type or size. */
function weird(random: Random): unknown {
  const pick = pickOf(random);
  return pick([
    () => null,
    () => true,
    () => -1,
    () => 0,
    () => -0,
    () => 1e308,
    () => -1e308,
    () => 5e-324,
    () => 2 ** 53 + 1,
    () => 1.5,
    () => 91,
    () => -181,
    () => '',
    () => ' ',
    () => 'x'.repeat(Math.floor(random() * 20_000)),
    () => '\u0000\ud800\udfff\u202e',
    () => '2026-13-45T99:99:99Z',
    () => '1900-01-01T00:00:00+00:00',
    () => '3000-01-01T00:00:00+14:00',
    () => '0001-01-01T00:00:00Z',
    () => '12',
    () => 'NaN',
    () => [],
    () => ({}),
    () => [null],
    () => Array.from({ length: 5000 }, (_, i) => i),
    () => Array.from({ length: 2000 }, () => 's-0001'),
    () => ({ lat: 1e6, lng: -1e6 }),
    () => ({ lat: 'north', lng: null }),
    () => JSON.parse('{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}}'),
    () => JSON.parse(nestedArrays(200)),
  ])();
}

type Json = unknown;

/** Every path to a value in the tree (root included). */
function paths(value: Json, at: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  out.push(at);
  if (out.length > 400) return out;
  if (Array.isArray(value)) value.slice(0, 20).forEach((v, i) => paths(v, [...at, i], out));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value as Record<string, Json>)) paths(v, [...at, k], out);
  return out;
}

function setOwn(target: Record<string, Json> | Json[], key: string | number, value: Json): void {
  // defineProperty: '__proto__' becomes an own key that JSON.stringify writes out, as an attacker would send it.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** One to three structural mutations anywhere in the tree: replace, drop, add hostile keys, confuse types. */
export function mutate(body: Json, random: Random): Json {
  const pick = pickOf(random);
  const root = { v: structuredClone(body) };
  const times = 1 + Math.floor(random() * 3);
  for (let t = 0; t < times; t++) {
    const path = pick(paths(root.v));
    let parent: Record<string, Json> | Json[] = root as unknown as Record<string, Json>;
    let key: string | number = 'v';
    for (const p of path) {
      parent = (parent as Record<string, Json>)[key] as Record<string, Json>;
      key = p;
    }
    const current = (parent as Record<string, Json>)[key];
    const r = random();
    if (r < 0.35) setOwn(parent, key, weird(random));
    else if (r < 0.5) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else if (parent !== (root as unknown)) delete (parent as Record<string, Json>)[key];
      else root.v = undefined;
    } else if (r < 0.65 && current && typeof current === 'object' && !Array.isArray(current)) {
      setOwn(
        current as Record<string, Json>,
        pick(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'extra', '']),
        weird(random),
      );
    } else if (r < 0.8) {
      // Type confusion: the same value in another type.
      const confused =
        typeof current === 'number'
          ? String(current)
          : typeof current === 'string'
            ? Number(current) || current.length
            : Array.isArray(current)
              ? Object.fromEntries(current.map((v, i) => [String(i), v]))
              : current && typeof current === 'object'
                ? Object.values(current)
                : current === null
                  ? {}
                  : [current];
      setOwn(parent, key, confused);
    } else if (r < 0.9 && Array.isArray(current) && current.length > 0) {
      // Many copies of a valid element: the handler's own bounds, past the schema's.
      const copies = pick([2, 101, 1001, 10_001]);
      setOwn(
        parent,
        key,
        Array.from({ length: copies }, (_, i) => structuredClone(current[i % current.length])),
      );
    } else {
      setOwn(parent, key, weird(random));
    }
  }
  return root.v;
}

/** Mutations only some routes understand: deep events, hostile OIP shapes, implausible times. */
function routeSpecific(url: string, valid: Json, random: Random): { text: string; what: string } | undefined {
  const pick = pickOf(random);
  if (url === '/v1/events' && Array.isArray(valid)) {
    const events = valid as Array<Record<string, Json>>;
    const one = structuredClone(pick(events));
    const depth = pick([1000, 10_000, 50_000, 100_000]);
    return pick([
      () => {
        // A deep structure under `constructor`: the events body check must not recurse.
        const text =
          JSON.stringify([one]).slice(0, -2) + `,"constructor":${nestedObjects(depth, 'constructor')}}]`;
        return { text, what: `event with constructor nested ${depth}` };
      },
      () => {
        const text = JSON.stringify([one]).slice(0, -2) + `,"payload":${nestedArrays(depth)}}]`;
        return { text, what: `event with array nested ${depth}` };
      },
      () => ({
        text: JSON.stringify([
          {
            ...one,
            occurred_at: pick([
              '0001-01-01T00:00:00Z',
              '3000-01-01T00:00:00+00:00',
              '1970-01-01T00:00:00-23:59',
              '2026-02-30T10:00:00Z',
            ]),
          },
        ]),
        what: 'event at an implausible time',
      }),
      () => ({
        text: JSON.stringify(
          Array.from({ length: 5000 }, (_, i) => ({ ...one, event_id: `${String(one.event_id)}-${i}` })),
        ),
        what: '5000 events',
      }),
      () => ({
        text: JSON.stringify([
          {
            ...one,
            type: pick([
              'app.',
              'app.' + 'x'.repeat(100),
              'order.unknown',
              '__proto__',
              'app.__proto__',
              'constructor',
            ]),
          },
        ]),
        what: 'event of an odd type',
      }),
      () => ({
        text: JSON.stringify([{ ...one, event_id: one.event_id }, { ...one }]),
        what: 'duplicate event ids in one batch',
      }),
      () => ({
        text: JSON.stringify([{ ...one, blob: 'x'.repeat(pick([60_000, 300_000, 900_000])) }]),
        what: 'one huge event',
      }),
    ])();
  }
  if (/^\/v2\/models\/.*\/infer$/.test(url) && valid && typeof valid === 'object') {
    const body = structuredClone(valid) as { inputs: Array<Record<string, Json>> };
    const t = body.inputs[0]!;
    const shape = pick<Json>([
      [1e9, 12],
      [1e9, 1e9],
      [2 ** 31, 12],
      [Number.MAX_SAFE_INTEGER, 12],
      [-1, 12],
      [1.5, 12],
      [0, 12],
      [1, 0],
      [1, 13],
      [1],
      [12],
      [1, 12, 1],
      [],
      ['1', '12'],
      [1e308, 12],
    ]);
    const op = pick(['shape', 'data', 'datatype', 'named', 'outputs']);
    if (op === 'shape') t.shape = shape;
    else if (op === 'data')
      t.data = pick<Json>([
        [],
        [[1, 2], [3]],
        [null],
        Array(1_000_001).fill(0).slice(0, 200_000),
        [[[1]]],
        'x',
      ]);
    else if (op === 'datatype') t.datatype = pick(['INT32', 'BYTES', 'FP16', '', null]);
    else if (op === 'named')
      body.inputs = Array.from({ length: pick([2, 12, 256, 300]) }, (_, i) => ({
        name: `f${i}`,
        shape: [pick([1, 1e9, -1])],
        datatype: 'FP64',
        data: [1],
      }));
    else
      (body as Record<string, Json>).outputs = pick<Json>([
        [{ name: 'nope' }],
        [{}],
        Array(1000).fill({ name: 'p50' }),
      ]);
    return { text: JSON.stringify(body), what: `oip ${op} ${JSON.stringify(t.shape).slice(0, 40)}` };
  }
  if (valid && typeof valid === 'object' && 'ordered_at' in (valid as object)) {
    const at = pick([
      '1900-01-01T00:00:00+00:00',
      '3000-01-01T00:00:00+00:00',
      '2026-01-01T00:00:00+23:59',
      '0000-01-01T00:00:00Z',
      '2026-11-26T19:05:00.123456789+01:00',
      '2026-11-26T19:05:00',
    ]);
    return { text: JSON.stringify({ ...(valid as object), ordered_at: at }), what: `ordered_at ${at}` };
  }
  return undefined;
}

/** JSON text that JSON.stringify cannot make. */
function rawText(valid: Json, random: Random): { text: string; what: string } {
  const pick = pickOf(random);
  const text = JSON.stringify(valid ?? {});
  const depth = pick([1000, 10_000, 50_000, 100_000]);
  return pick([
    () => ({ text: text.replace(/:\s*-?[0-9.]+/, ': NaN'), what: 'NaN' }),
    () => ({ text: text.replace(/:\s*-?[0-9.]+/, ': 1e400'), what: '1e400' }),
    () => ({ text: text.replace(/:\s*-?[0-9.]+/, ': ' + '9'.repeat(5000)), what: '5000-digit number' }),
    () => ({ text: text.slice(0, Math.floor(random() * text.length)), what: 'truncated' }),
    () => ({ text: nestedArrays(depth), what: `arrays nested ${depth}` }),
    () => ({ text: nestedObjects(depth), what: `objects nested ${depth}` }),
    () => ({
      text: text.replace(/^([[{])/, `$1"deep":${nestedArrays(depth)},`).replace('[,', '['),
      what: `field nested ${depth}`,
    }),
    () => ({ text: '', what: 'empty' }),
    () => ({ text: pick(['null', '[]', '{}', '"string"', '0', 'true', '[null]']), what: 'scalar' }),
    () => ({ text: text + text, what: 'two documents' }),
    () => ({ text: `{${'"k":1,'.repeat(50_000)}"k":2}`, what: 'duplicate keys' }),
    () => ({ text: '\ufeff' + text, what: 'BOM' }),
    () => ({ text: text.replace('{', '{/*c*/'), what: 'comment' }),
    () => ({ text: text.replace(/"([a-z_]+)":/, '"$1\\u0000":'), what: 'NUL in a key' }),
    () => ({ text: text.replace(/"([^"]*)"/, '"\\ud800"'), what: 'lone surrogate' }),
  ])();
}

const AUTH_KINDS = [
  'good',
  'good',
  'good',
  'good',
  'good',
  'good',
  'good',
  'good',
  'none',
  'wrong',
  'malformed',
  'scope',
] as const;

function authHeaders(
  kind: (typeof AUTH_KINDS)[number],
  fx: Fixtures,
  random: Random,
): Record<string, string> {
  const pick = pickOf(random);
  switch (kind) {
    case 'good':
      return { authorization: `Bearer ${DEMO_KEY}`, ...internalHeaders() };
    case 'none':
      return {};
    case 'wrong':
      return { authorization: `Bearer es_wrong_${'0'.repeat(30)}`, ...internalHeaders(true) };
    case 'malformed':
      return {
        authorization: pick([
          'Bearer',
          'Bearer ',
          'Basic Zm9vOmJhcg==',
          `Bearer ${'x'.repeat(8000)}`,
          `Bearer ${DEMO_KEY} extra`,
          'bearer\t' + DEMO_KEY,
        ]),
      };
    case 'scope':
      return { authorization: `Bearer ${fx.predictKey}`, ...internalHeaders() };
  }
}

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/jsonx',
  'application/x-ndjson',
  'APPLICATION/JSON',
  '*/*',
  ';;;',
];

/** Route methods that a route table lists for a URL; the others are wrong methods there. */
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND'];

/**
 * The n-th case for one route: a valid body (so the handler runs), or a mutation of it, raw JSON tricks, invalid
 * UTF-8, NDJSON, a wrong content type or method; with good credentials mostly, none or wrong ones sometimes.
 */
export function nextCase(
  route: { method: string; url: string },
  allMethods: readonly string[],
  n: number,
  fx: Fixtures,
  random: Random,
  baseline = false,
): HttpCase {
  const pick = pickOf(random);
  let method = route.method;
  const query = method === 'GET' ? queryFor(route.url, random) : '';
  const path = fillPath(route.url, method, n, fx, random) + (baseline ? '' : query);
  const headers: Record<string, string> = authHeaders(baseline ? 'good' : pick(AUTH_KINDS), fx, random);
  const valid = validBody(route.method, route.url, n, fx, random);
  if (baseline) {
    // The route as a client uses it: good credentials, a valid body.
    const body = valid === undefined ? undefined : Buffer.from(JSON.stringify(valid));
    if (body) headers['content-type'] = 'application/json';
    return { n, kind: 'baseline', method, route: `${route.method} ${route.url}`, path, headers, body };
  }
  let kind: string;
  let body: Buffer | undefined;
  let type: string | undefined = 'application/json';
  const r = random();
  if (valid === undefined) {
    // Routes without a body: no body, or one they did not ask for.
    if (r < 0.7) {
      kind = 'plain';
      type = undefined;
    } else if (r < 0.85) {
      kind = 'unasked body';
      body = Buffer.from(rawText({ a: 1 }, random).text);
    } else {
      kind = 'unasked json';
      body = Buffer.from(JSON.stringify(weird(random)));
    }
  } else if (r < 0.2) {
    kind = 'valid';
    body = Buffer.from(JSON.stringify(valid));
  } else if (r < 0.55) {
    kind = 'mutated';
    body = Buffer.from(JSON.stringify(mutate(valid, random)) ?? '');
  } else if (r < 0.7) {
    const special = routeSpecific(route.url, valid, random) ?? rawText(valid, random);
    kind = special.what;
    body = Buffer.from(special.text);
  } else if (r < 0.8) {
    const raw = rawText(valid, random);
    kind = `raw ${raw.what}`;
    body = Buffer.from(raw.text);
  } else if (r < 0.86) {
    kind = 'invalid utf-8';
    body = Buffer.from(JSON.stringify(valid));
    for (let i = 0; i < 4; i++)
      body[Math.floor(random() * body.length)] = pick([0xff, 0xfe, 0xc0, 0x80, 0xed, 0x00]);
  } else if (r < 0.93 && Array.isArray(valid)) {
    // NDJSON, as the events route takes it.
    type = 'application/x-ndjson';
    const lines = (valid as Json[]).map((e) => JSON.stringify(e));
    kind = `ndjson ${pick(['plain', 'crlf', 'blank lines', 'garbage line', 'array line', 'no newline', 'deep line', 'huge line'])}`;
    const text =
      kind === 'ndjson crlf'
        ? lines.join('\r\n')
        : kind === 'ndjson blank lines'
          ? `\n\n${lines.join('\n\n')}\n\n`
          : kind === 'ndjson garbage line'
            ? [...lines, '{"event_id":', 'garbage'].join('\n')
            : kind === 'ndjson array line'
              ? [JSON.stringify(valid), ...lines].join('\n')
              : kind === 'ndjson no newline'
                ? lines.join('')
                : kind === 'ndjson deep line'
                  ? [...lines, nestedObjects(pick([10_000, 100_000]), 'constructor')].join('\n')
                  : kind === 'ndjson huge line'
                    ? [
                        ...lines,
                        JSON.stringify({
                          ...(valid as Array<Record<string, Json>>)[0],
                          blob: 'y'.repeat(500_000),
                        }),
                      ].join('\n')
                    : `${lines.join('\n')}\n`;
    body = Buffer.from(text);
  } else {
    type = pick(CONTENT_TYPES);
    kind = `content-type ${type}`;
    body = Buffer.from(pick([JSON.stringify(valid), 'a=1&b=2', '', '--x\r\n\r\n--x--', '<a/>']));
  }
  if (random() < 0.05) {
    // A method this URL does not take: 405 (or 404), never 5xx.
    const other = METHODS.filter((m) => !allMethods.includes(m));
    if (other.length > 0) {
      method = pick(other);
      kind = `wrong method ${method} (${kind})`;
    }
  }
  if (type !== undefined && body !== undefined) headers['content-type'] = type;
  if (random() < 0.03) delete headers['content-type'];
  return { n, kind, method, route: `${route.method} ${route.url}`, path, headers, body };
}

/** A readable one-line summary of a case's payload. */
export function summary(c: { body?: Buffer | undefined }): string {
  if (!c.body) return '(no body)';
  const text = c.body.toString('utf8');
  const shown = text.length > 160 ? `${text.slice(0, 120)}…${text.slice(-30)}` : text;
  return `${c.body.length} bytes: ${JSON.stringify(shown)}`;
}

export interface FaultCase {
  n: number;
  kind: string;
  route: string;
  script: RawScript;
  heads: boolean[];
  /** The server must close the connection (no answers to wait for, or a broken request it must drop). */
  expectClose: boolean;
}

/**
 * Transport faults over a raw socket for one route with a body: lengths that lie, broken chunking, slow bodies,
 * headers that never end, oversized headers, pipelining, a client gone mid-body.
 */
export function faultCase(
  route: { method: string; url: string },
  port: number,
  n: number,
  fx: Fixtures,
  random: Random,
  kind: string,
): FaultCase {
  const pick = pickOf(random);
  const path = fillPath(route.url, route.method, n, fx, random);
  const valid = validBody(route.method, route.url, n, fx, random) ?? { a: 1 };
  const body = Buffer.from(JSON.stringify(valid));
  const auth = authHeaders('good', fx, random);
  const json = { ...auth, 'content-type': 'application/json' };
  const req = (headers: Record<string, string>, b?: Buffer, close = true): Buffer =>
    requestBytes(route.method, path, port, headers, b, close);
  const head = (headers: Record<string, string>, close = true): Buffer => req(headers, undefined, close);
  const base = { n, kind, route: `${route.method} ${route.url}`, heads: [] as boolean[] };
  switch (kind) {
    case 'length short':
      // The server reads fewer bytes than were sent; the rest is a broken next request on a kept-alive socket.
      return {
        ...base,
        script: {
          steps: [
            req(
              { ...json, 'content-length': String(Math.max(0, body.length - 1 - Math.floor(random() * 10))) },
              body,
              false,
            ),
          ],
        },
        expectClose: true,
      };
    case 'length long':
      return {
        ...base,
        script: {
          steps: [
            req({ ...json, 'content-length': String(body.length + 1 + Math.floor(random() * 1000)) }, body),
          ],
        },
        expectClose: true,
      };
    case 'length bogus':
      return {
        ...base,
        script: {
          steps: [
            req(
              {
                ...json,
                'content-length': pick(['-1', 'abc', '1e3', '99999999999999999999', '12, 13', '0x10']),
              },
              body,
            ),
          ],
        },
        expectClose: true,
      };
    case 'length twice':
      return {
        ...base,
        script: {
          steps: [
            Buffer.concat([
              head({ ...json, 'content-length': `${body.length}\r\ncontent-length: ${body.length + 5}` }),
              body,
            ]),
          ],
        },
        expectClose: true,
      };
    case 'chunked bad size': {
      const size = pick([
        'zz',
        '-5',
        'ffffffffffffffff',
        '1;ext=' + 'x'.repeat(10_000),
        '',
        '0x10',
        String(body.length + 50),
      ]);
      return {
        ...base,
        script: {
          steps: [
            head({ ...json, 'transfer-encoding': 'chunked' }),
            Buffer.from(`${size}\r\n`),
            body,
            Buffer.from('\r\n0\r\n\r\n'),
          ],
        },
        expectClose: true,
      };
    }
    case 'chunked unterminated':
      return {
        ...base,
        script: {
          steps: [
            head({ ...json, 'transfer-encoding': 'chunked' }),
            Buffer.from(`${body.length.toString(16)}\r\n`),
            body,
            Buffer.from('\r\n'),
          ],
        },
        expectClose: true,
      };
    case 'chunked and length':
      return {
        ...base,
        script: {
          steps: [
            head({ ...json, 'transfer-encoding': 'chunked', 'content-length': String(body.length) }),
            Buffer.from(`${body.length.toString(16)}\r\n`),
            body,
            Buffer.from('\r\n0\r\n\r\n'),
          ],
        },
        expectClose: true,
      };
    case 'slow body':
      // A few bytes, then nothing: the body timeout must answer 408 and close.
      return {
        ...base,
        script: {
          steps: [
            head({ ...json, 'content-length': String(body.length) }),
            body.subarray(0, 3),
            { pauseMs: HANG_MS * 2 },
          ],
        },
        expectClose: true,
      };
    case 'trickled body':
      // A byte every 100 ms: alive, but never done within the request timeout.
      return {
        ...base,
        script: {
          steps: [
            head({ ...json, 'content-length': String(body.length + 500) }),
            { trickle: Buffer.concat([body, Buffer.alloc(500, 0x20)]), everyMs: 100 },
          ],
        },
        expectClose: true,
      };
    case 'headers only':
      return {
        ...base,
        script: {
          steps: [
            Buffer.from(
              `${route.method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${DEMO_KEY}\r\n`,
            ),
            { pauseMs: HANG_MS * 2 },
          ],
        },
        expectClose: true,
      };
    case 'trickled headers':
      return {
        ...base,
        script: {
          steps: [
            {
              trickle: Buffer.from(
                `${route.method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ${'s'.repeat(200)}`,
              ),
              everyMs: 50,
            },
          ],
        },
        expectClose: true,
      };
    case 'oversized header':
      return {
        ...base,
        script: { steps: [req({ ...json, 'x-big': 'b'.repeat(pick([20_000, 100_000, 1_000_000])) }, body)] },
        expectClose: true,
      };
    case 'many headers':
      return {
        ...base,
        script: {
          steps: [
            req(
              {
                ...json,
                ...Object.fromEntries(Array.from({ length: pick([200, 3000]) }, (_, i) => [`x-h${i}`, 'v'])),
              },
              body,
            ),
          ],
        },
        expectClose: true,
      };
    case 'bad request line':
      return {
        ...base,
        script: {
          steps: [
            Buffer.from(
              pick([
                `${route.method} ${path}\r\n\r\n`,
                `${route.method} ${path} HTTP/9.9\r\nhost: x\r\n\r\n`,
                `\u0000\u0001\u0002 / HTTP/1.1\r\n\r\n`,
                `${route.method}  ${path}  HTTP/1.1\r\nhost: x\r\n\r\n`,
                `${route.method} ${path} HTTP/1.1\nhost: x\n\n`,
                `${route.method} /${'a'.repeat(70_000)} HTTP/1.1\r\nhost: x\r\n\r\n`,
              ]),
              'latin1',
            ),
          ],
        },
        expectClose: true,
      };
    case 'pipelined': {
      const k = 2 + Math.floor(random() * 4);
      const one = req({ ...json }, body, false);
      const last = req({ ...json }, body, true);
      return {
        ...base,
        script: { steps: [Buffer.concat([...Array<Buffer>(k - 1).fill(one), last])], answers: k },
        expectClose: false,
      };
    }
    case 'pipelined mixed': {
      const get = requestBytes('GET', '/healthz', port, {}, undefined, false);
      const bad = req({ ...json }, Buffer.from('{"broken":'), false);
      const good = req({ ...json }, body, true);
      return { ...base, script: { steps: [Buffer.concat([get, bad, good])] }, expectClose: true };
    }
    case 'expect continue':
      return {
        ...base,
        script: {
          steps: [
            head({ ...json, 'content-length': String(body.length), expect: '100-continue' }),
            { pauseMs: 200 },
            body,
          ],
        },
        expectClose: true,
      };
    case 'abrupt close':
      return {
        ...base,
        script: {
          steps: [
            head({ ...json, 'content-length': String(body.length) }),
            body.subarray(0, Math.floor(body.length / 2)),
            { pauseMs: 50 },
            { destroy: true },
          ],
        },
        expectClose: true,
      };
    case 'abrupt close after request':
      return { ...base, script: { steps: [req({ ...json }, body), { destroy: true }] }, expectClose: true };
  }
  throw new Error(`unknown fault ${kind}`);
}

export const FAULT_KINDS = [
  'length short',
  'length long',
  'length bogus',
  'length twice',
  'chunked bad size',
  'chunked unterminated',
  'chunked and length',
  'slow body',
  'trickled body',
  'headers only',
  'trickled headers',
  'oversized header',
  'many headers',
  'bad request line',
  'pipelined',
  'pipelined mixed',
  'expect continue',
  'abrupt close',
  'abrupt close after request',
] as const;
