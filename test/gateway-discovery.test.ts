import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { composeProcess } from '../src/app/compose.js';
import { loadAppConfig } from '../src/app/config.js';
import { PredictorBalancer, type BalancerOptions } from '../src/predictor/replicas/balancer.js';
import { lookupAll, PredictorDiscovery, type Resolve } from '../src/predictor/replicas/discovery.js';
import { createLogger, createMetrics, DEFAULT_BREAKER, type Metrics } from '../src/platform/index.js';
import { PredictorClient } from '../src/predictor/index.js';
import { bearer, DEMO_KEY, ORDER } from './gateway-app.js';
import { freshDataDir, waitFor } from './support/processes.js';
import { ensureTemplate } from './support/template.js';

// Predictor replicas on distinct loopback addresses (Linux routes all of 127.0.0.0/8 to lo), one port, one name:
// the shape of a Kubernetes headless Service. The name resolves through a resolver the test controls.
const NAME = 'predictors.test';
const TOKEN = 'discovery-test-token';

const OPTIONS: BalancerOptions = {
  requestDeadlineMs: 3000,
  attemptTimeoutMs: 1500,
  retryBudgetRatio: 0.5,
  retryBudgetMinRetries: 50,
  maxAttempts: 3,
  hedgeDelayMs: 0,
  // Open stays open for the test: the state asserted is not a moment between half-open trials.
  breaker: { ...DEFAULT_BREAKER, consecutiveFailures: 3, openMs: 600_000 },
  // Outlier ejection out of the way: the breaker is what is asserted.
  outlier: { consecutiveFailures: 1_000, baseEjectionMs: 1_000, maxEjectionMs: 1_000 },
};

/** A small predictor answering the internal batch route and /readyz, counting its calls. */
class FakePredictor {
  predictions = 0;
  hosts = new Set<string>();
  tokens = new Set<string>();
  /** Other requests (the gateway's console scrapes /metrics), answered 404. */
  others: string[] = [];
  private server: Server | undefined;

  constructor(
    readonly address: string,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (req.url === '/readyz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}');
        return;
      }
      if (req.method !== 'POST' || req.url !== '/internal/predict/batch') {
        this.others.push(`${req.method} ${req.url}`);
        res.writeHead(404).end();
        return;
      }
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        this.predictions++;
        this.hosts.add(req.headers.host ?? '');
        this.tokens.add(String(req.headers['x-etaserve-internal-token'] ?? ''));
        const { storeIds } = JSON.parse(body) as { storeIds: string[] };
        const results = storeIds.map((storeId) => ({
          prediction: {
            storeId,
            p10: 600,
            p50: 900,
            p90: 1200,
            prepSeconds: 300,
            travelSeconds: 600,
            distanceKm: 2,
            timezone: 'Europe/Paris',
            modelVersion: this.address,
            degraded: false,
            degradedReasons: [],
          },
        }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.address, () => resolve());
    });
    this.server = server;
  }

  /** Gone like a killed pod: the listener closes and open connections are cut. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
  }
}

/** One port free on every given loopback address. */
async function portFreeOn(addresses: string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768+), where outgoing connections would race us for the port.
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await Promise.all(
      addresses.map(
        (address) =>
          new Promise<boolean>((resolve) => {
            const s = createServer();
            s.once('error', () => resolve(false));
            s.listen(port, address, () => s.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return port;
  }
  throw new Error('no port free on every loopback address');
}

/** A resolver whose answer the test sets, counting its calls. */
function controlledResolver(initial: string[]): { resolve: Resolve; answer: string[]; calls: number } {
  const state = {
    answer: initial,
    calls: 0,
    resolve: (async (host: string) => {
      state.calls++;
      if (host !== NAME)
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return state.answer.map((address) => ({ address, family: 4 }));
    }) as Resolve,
  };
  return state;
}

/** Requests from a few concurrent callers until stopped; every error is kept. */
function traffic(balancer: PredictorBalancer): { stop: () => Promise<{ ok: number; errors: string[] }> } {
  let running = true;
  let ok = 0;
  const errors: string[] = [];
  const request = { storeIds: ['s-0001'], destination: { lat: 48.86, lng: 2.35 }, orderedAtMs: Date.now() };
  const caller = async (): Promise<void> => {
    while (running) {
      try {
        const results = await balancer.predictBatch(request);
        if (results.every((r) => r.ok)) ok++;
        else errors.push('a result was an error');
      } catch (e) {
        errors.push((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const callers = Array.from({ length: 4 }, caller);
  return {
    stop: async () => {
      running = false;
      await Promise.all(callers);
      return { ok, errors };
    },
  };
}

function setup(
  port: number,
  resolver: { resolve: Resolve },
  intervalMs: number,
): { balancer: PredictorBalancer; discovery: PredictorDiscovery; metrics: Metrics } {
  const metrics = createMetrics({ target: 'discovery-test' });
  const balancer = new PredictorBalancer([], OPTIONS, metrics, { dynamic: true });
  const discovery = new PredictorDiscovery(balancer, {
    urls: [`http://${NAME}:${port}`],
    intervalMs,
    resolve: resolver.resolve,
    logger: createLogger({ level: 'silent' }),
    client: (endpoint) =>
      new PredictorClient(endpoint.url, 1500, { internalToken: TOKEN, hostHeader: endpoint.hostHeader }),
  });
  cleanups.push(async () => {
    discovery.stop();
    await balancer.close();
  });
  return { balancer, discovery, metrics };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const replicaOf = (balancer: PredictorBalancer, name: string) =>
  balancer.states().find((s) => s.name === name);

describe('predictor discovery behind one name', () => {
  it('gives each pod its own breaker, and resolves the name again when a pod fails and is replaced', async () => {
    const port = await portFreeOn(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    const [a, b, c] = ['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((ip) => new FakePredictor(ip, port));
    for (const s of [a!, b!, c!]) cleanups.push(() => s.stop());
    await a!.start();
    await b!.start();
    const resolver = controlledResolver(['127.0.0.2', '127.0.0.3']);
    // An hour between periodic resolutions: every resolution after the first is one a connection failure asked for.
    const { balancer, discovery, metrics } = setup(port, resolver, 3_600_000);
    await discovery.start();
    balancer.startProbes();
    const [nameA, nameB, nameC] = [a!, b!, c!].map((s) => `${NAME}@${s.address}:${port}`);

    expect(balancer.states().map((s) => [s.name, s.breaker, s.warming])).toEqual([
      [nameA, 'closed', false],
      [nameB, 'closed', false],
    ]);
    const series = await metrics.registry.getSingleMetric('etaserve_breaker_state')!.get();
    expect(series.values.map((v) => v.labels.replica).sort()).toEqual([nameA, nameB]);

    const load = traffic(balancer);
    await waitFor(() => a!.predictions > 0 && b!.predictions > 0, 20_000, 'both replicas to take calls');
    // The connection goes to the address; the request still names the service and carries the internal token.
    expect([...a!.hosts, ...b!.hosts]).toEqual([`${NAME}:${port}`, `${NAME}:${port}`]);
    expect([...a!.tokens]).toEqual([TOKEN]);

    // One pod dies: its breaker opens, the other's stays closed and serves.
    const resolvedBefore = resolver.calls;
    await a!.stop();
    await waitFor(() => replicaOf(balancer, nameA)?.breaker === 'open', 20_000, `${nameA}'s breaker to open`);
    expect(replicaOf(balancer, nameB)?.breaker).toBe('closed');
    // The refused connections asked for a resolution (the periodic one is an hour away).
    await waitFor(() => resolver.calls > resolvedBefore, 20_000, 'the name to be resolved again');

    // Its replacement comes up on another address, and the name now answers with it.
    await c!.start();
    resolver.answer = ['127.0.0.3', '127.0.0.4'];
    const servedBefore = c!.predictions;
    await waitFor(() => c!.predictions > servedBefore + 10, 20_000, 'calls to reach the replacement');
    await waitFor(() => replicaOf(balancer, nameA) === undefined, 20_000, `${nameA} to be removed`);
    expect(balancer.states().map((s) => [s.name, s.breaker])).toEqual([
      [nameB, 'closed'],
      [nameC, 'closed'],
    ]);

    const { ok, errors } = await load.stop();
    expect(errors).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    // The dead pod's series is gone: no breaker state is left behind for an address that no longer exists.
    const after = await metrics.registry.getSingleMetric('etaserve_breaker_state')!.get();
    expect(after.values.map((v) => v.labels.replica).sort()).toEqual([nameB, nameC]);
  }, 60_000);

  it('follows the answer on its periodic refresh, and keeps the last set when the answer is empty', async () => {
    const port = await portFreeOn(['127.0.0.3', '127.0.0.4']);
    const [b, c] = ['127.0.0.3', '127.0.0.4'].map((ip) => new FakePredictor(ip, port));
    for (const s of [b!, c!]) cleanups.push(() => s.stop());
    await b!.start();
    await c!.start();
    const resolver = controlledResolver(['127.0.0.3']);
    const { balancer, discovery } = setup(port, resolver, 200);
    await discovery.start();
    const [nameB, nameC] = [b!, c!].map((s) => `${NAME}@${s.address}:${port}`);
    expect(balancer.states().map((s) => s.name)).toEqual([nameB]);
    const load = traffic(balancer);

    // A new pod: added (after its /readyz) and given calls with no failure to prompt anything.
    resolver.answer = ['127.0.0.3', '127.0.0.4'];
    await waitFor(() => c!.predictions > 10, 20_000, 'calls to reach the new pod');

    // A pod scaled away: drained and removed while it still listens, so no call to it fails.
    resolver.answer = ['127.0.0.4'];
    await waitFor(() => replicaOf(balancer, nameB) === undefined, 20_000, `${nameB} to be removed`);

    // No answer at all: the last known set stays.
    resolver.answer = [];
    const calls = resolver.calls;
    await waitFor(() => resolver.calls > calls + 2, 20_000, 'a few more resolutions');
    expect(balancer.states().map((s) => s.name)).toEqual([nameC]);
    // Read well after the removal, when the calls it had in flight have long finished.
    const servedByB = b!.predictions;
    const servedByC = c!.predictions;
    await waitFor(() => c!.predictions > servedByC + 10, 20_000, 'more calls to the remaining pod');

    const { errors } = await load.stop();
    expect(errors).toEqual([]);
    expect(b!.predictions).toBe(servedByB);
  }, 60_000);

  it('starts with no replica when the name does not resolve yet, and answers unavailable until it does', async () => {
    const port = await portFreeOn(['127.0.0.3']);
    const b = new FakePredictor('127.0.0.3', port);
    cleanups.push(() => b.stop());
    await b.start();
    const resolver = controlledResolver([]);
    const { balancer, discovery } = setup(port, resolver, 200);
    await discovery.start();
    expect(balancer.states()).toEqual([]);
    const request = { storeIds: ['s-0001'], destination: { lat: 48.86, lng: 2.35 }, orderedAtMs: Date.now() };
    await expect(balancer.predictBatch(request)).rejects.toMatchObject({ code: 'upstream_unavailable' });
    expect(balancer.health()).toEqual({
      up: [],
      down: [{ name: 'discovery', why: 'no predictor address resolved yet' }],
    });
    resolver.answer = ['127.0.0.3'];
    await waitFor(() => balancer.health().up.length === 1, 20_000, 'the replica to be discovered');
    const [result] = await balancer.predictBatch(request);
    expect(result!.ok).toBe(true);
  }, 30_000);
});

describe('a gateway process with predictorDiscovery=dns', () => {
  it('resolves the name with the system resolver (/etc/hosts) and answers from the pod it found', async () => {
    // `localhost` is in every /etc/hosts: the real lookup, no injected resolver.
    const addresses = await lookupAll('localhost');
    const ipv4 = addresses.find((a) => a.family === 4)?.address;
    expect(ipv4, 'localhost resolves to an IPv4 address').toBeDefined();
    const port = await portFreeOn([ipv4!]);
    const pod = new FakePredictor(ipv4!, port);
    cleanups.push(() => pod.stop());
    await pod.start();
    await ensureTemplate();
    const data = freshDataDir();
    const config = loadAppConfig({
      env: {
        ETASERVE_DATA_DIR: data.dir,
        ETASERVE_DEMO_API_KEY: DEMO_KEY,
        ETASERVE_GATEWAY_PORT: '0',
        ETASERVE_GATEWAY_RESPONSE_CACHE: 'false',
        ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
        ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
        ETASERVE_INTERNAL_TOKEN: TOKEN,
        ETASERVE_TOPOLOGY_PREDICTOR_URLS: `http://localhost:${port}`,
        ETASERVE_TOPOLOGY_PREDICTOR_DISCOVERY: 'dns',
        ETASERVE_TOPOLOGY_SHARED_DISK: 'true',
      },
    });
    // As a gateway child of `etaserve up` (loopback), where the demo key is allowed.
    const proc = await composeProcess(config, ['gateway'], createLogger({ level: 'silent' }), {
      localCluster: true,
    });
    await proc.manager.startAll();
    cleanups.push(async () => {
      await proc.manager.stopAll();
      data.cleanup();
    });

    const res = await proc.app.inject({
      method: 'POST',
      url: '/v1/eta',
      headers: bearer(DEMO_KEY),
      payload: ORDER,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ model_version: ipv4, degraded: false });
    expect(pod.hosts).toEqual(new Set([`localhost:${port}`]));
    expect([...pod.tokens]).toEqual([TOKEN]);
    const metrics = (await proc.app.inject({ url: '/metrics' })).body;
    expect(metrics).toContain(`etaserve_breaker_state{replica="localhost@${ipv4}:${port}"`);
  }, 120_000);
});
