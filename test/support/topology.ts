import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Container } from './containers.js';
import { startPostgres, type TestPostgres } from './postgres.js';
import { freePort, isFree, waitFor } from './processes.js';
import { startRedis, type RedisServer } from './redis.js';

/** The name behind which the predictors listen, as a Kubernetes headless Service answers with every pod. */
export const PREDICTORS_NAME = 'predictors.topology';
/** The image's user: the lake volume must be its. */
const APP_UID = 10001;

export interface Service {
  container: Container;
  url: string;
}

/**
 * The production shape as containers of the etaserve image, each with its own filesystem: gateways, predictors on
 * distinct loopback addresses behind one name, store, geo, orders (the one owner of the order state, which the
 * gateways ask for order ETAs) and the pipeline with the only volume (its lake). Redis (the event log: AOF,
 * noeviction; and the cache) and PostgreSQL (catalog, registry, keys) run as processes of the test. Host network:
 * every service has its own port, the predictors one port on several addresses.
 */
export class Topology {
  readonly gateways: Service[] = [];
  /** By address (127.0.0.2, ...). */
  readonly predictors = new Map<string, Service>();
  store!: Service;
  geo!: Service;
  orders!: Service;
  pipeline!: Service;
  readonly adminKey = `es_topoadmin_${randomBytes(24).toString('base64url')}`;
  readonly token = randomBytes(32).toString('base64url');
  /** The host directory mounted as the pipeline's lake (/data/lake). */
  readonly lakeDir: string;
  private readonly work: string;
  /** Bind-mounted as the gateways' /etc/hosts: the test is their resolver for the predictors' name. */
  private readonly hostsFile: string;
  private readonly secretsDir: string;
  private ports!: {
    gateways: number[];
    store: number;
    geo: number;
    orders: number;
    pipeline: number;
    predictor: number;
  };

  private constructor(
    readonly eventsRedis: RedisServer,
    readonly cacheRedis: RedisServer,
    readonly postgres: TestPostgres,
    private readonly extraEnv: Record<string, string>,
    /** Container names start with it, and it labels them for clean-up (`removeContainers`). */
    readonly group: string,
  ) {
    this.work = mkdtempSync(path.join(tmpdir(), 'etaserve-topology-'));
    chmodSync(this.work, 0o755);
    this.lakeDir = path.join(this.work, 'lake');
    mkdirSync(this.lakeDir);
    chownSync(this.lakeDir, APP_UID, APP_UID);
    this.secretsDir = path.join(this.work, 'secrets');
    mkdirSync(this.secretsDir, { mode: 0o755 });
    // Mounted read-only, as Kubernetes mounts a Secret.
    writeFileSync(path.join(this.secretsDir, 'internal-token'), this.token, { mode: 0o644 });
    writeFileSync(path.join(this.secretsDir, 'admin-key'), this.adminKey, { mode: 0o644 });
    this.hostsFile = path.join(this.work, 'hosts');
  }

  /** Redis and PostgreSQL first (undefined when their binaries are missing, after the loud message), then nothing. */
  static async infrastructure(
    group: string,
    extraEnv: Record<string, string> = {},
  ): Promise<Topology | undefined> {
    const eventsRedis = await startRedis({
      args: ['--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'],
    });
    const cacheRedis = await startRedis({
      args: ['--maxmemory', '256mb', '--maxmemory-policy', 'allkeys-lru'],
    });
    const postgres = await startPostgres();
    if (!eventsRedis || !cacheRedis || !postgres) {
      await Promise.all([eventsRedis?.stop(), cacheRedis?.stop(), postgres?.stop()]);
      return undefined;
    }
    return new Topology(eventsRedis, cacheRedis, postgres, extraEnv, group);
  }

  private env(own: Record<string, string>): Record<string, string> {
    const url = (port: number): string => `http://127.0.0.1:${port}`;
    return {
      ETASERVE_LOG_LEVEL: 'warn',
      ETASERVE_HOST: '127.0.0.1',
      ETASERVE_EVENTS_BACKEND: 'redis',
      ETASERVE_EVENTS_REDIS_URL: this.eventsRedis.url,
      ETASERVE_CACHE_REDIS_URL: this.cacheRedis.url,
      ETASERVE_STORE_DATABASE: 'postgres',
      ETASERVE_STORE_POSTGRES_URL: this.postgres.url,
      ETASERVE_INTERNAL_TOKEN_FILE: '/run/secrets/etaserve/internal-token',
      ETASERVE_TOPOLOGY_STORE_URL: url(this.ports.store),
      ETASERVE_TOPOLOGY_GEO_URL: url(this.ports.geo),
      ETASERVE_TOPOLOGY_ORDERS_URL: url(this.ports.orders),
      ETASERVE_TOPOLOGY_PREDICTOR_URLS: `http://${PREDICTORS_NAME}:${this.ports.predictor}`,
      ETASERVE_TOPOLOGY_PREDICTOR_DISCOVERY: 'dns',
      ETASERVE_TOPOLOGY_PREDICTOR_DISCOVERY_INTERVAL_MS: '2000',
      ETASERVE_PIPELINE_SOURCE: 'lake',
      // Training runs when the test says (the CronJob's command, run in the pipeline's container).
      ETASERVE_PIPELINE_SCHEDULE: '',
      ...this.extraEnv,
      ...own,
    };
  }

  private async run(
    name: string,
    target: string,
    own: Record<string, string>,
    extra: { volumes?: string[]; addHosts?: string[] } = {},
  ): Promise<Container> {
    return Container.start({
      name: `${this.group}-${name}`,
      group: this.group,
      args: ['start', '--target', target],
      env: this.env(own),
      volumes: [`${this.secretsDir}:/run/secrets/etaserve:ro`, ...(extra.volumes ?? [])],
      ...(extra.addHosts ? { addHosts: extra.addHosts } : {}),
    });
  }

  /** The predictors' name resolves to these addresses, for every gateway, from their next lookup on. */
  setPredictorAddresses(addresses: readonly string[]): void {
    // Rewritten in place: the gateways' bind mount holds this inode.
    writeFileSync(
      this.hostsFile,
      ['127.0.0.1 localhost', ...addresses.map((a) => `${a} ${PREDICTORS_NAME}`)].join('\n') + '\n',
      { mode: 0o644 },
    );
  }

  /** Starts every container: store, geo, orders, predictors, pipeline, then the gateways. */
  async start(predictorAddresses: readonly string[]): Promise<void> {
    let predictor = 0;
    for (let attempt = 0; attempt < 20 && predictor === 0; attempt++) {
      const port = await freePort();
      const all = await Promise.all(
        [...predictorAddresses, '127.0.0.4', '127.0.0.5'].map((a) => isFree(port, a)),
      );
      if (all.every(Boolean)) predictor = port;
    }
    this.ports = {
      gateways: [await freePort(), await freePort()],
      store: await freePort(),
      geo: await freePort(),
      orders: await freePort(),
      pipeline: await freePort(),
      predictor,
    };
    this.setPredictorAddresses(predictorAddresses);
    this.store = {
      container: await this.run('store', 'store', { ETASERVE_STORE_PORT: String(this.ports.store) }),
      url: `http://127.0.0.1:${this.ports.store}`,
    };
    this.geo = {
      container: await this.run('geo', 'geo', { ETASERVE_GEO_PORT: String(this.ports.geo) }),
      url: `http://127.0.0.1:${this.ports.geo}`,
    };
    await Promise.all([this.ready(this.store), this.ready(this.geo)]);
    this.orders = {
      container: await this.run('orders', 'orders', {
        ETASERVE_ORDERS_PORT: String(this.ports.orders),
        // The orders' clock follows their events' times when those run ahead of the wall clock: the test's order
        // lives tomorrow evening (stores open, hours the legs learnt), whatever the hour the test runs.
        ETASERVE_ORDERS_EVENT_CLOCK: 'true',
      }),
      url: `http://127.0.0.1:${this.ports.orders}`,
    };
    for (const address of predictorAddresses) await this.startPredictor(address, { wait: false });
    this.pipeline = {
      container: await this.run(
        'pipeline',
        'pipeline',
        { ETASERVE_PIPELINE_PORT: String(this.ports.pipeline) },
        { volumes: [`${this.lakeDir}:/data/lake`] },
      ),
      url: `http://127.0.0.1:${this.ports.pipeline}`,
    };
    await Promise.all([...this.predictors.values()].map((p) => this.ready(p, '/healthz')));
    await this.ready(this.pipeline, '/healthz');
    await this.ready(this.orders);
    for (let i = 0; i < this.ports.gateways.length; i++) await this.startGateway(i);
  }

  /** A predictor container listening on `address` (a fresh one: a replacement pod gets a new address). */
  async startPredictor(address: string, options: { wait?: boolean } = {}): Promise<Service> {
    const service = {
      container: await this.run(`predictor-${address.replaceAll('.', '-')}`, 'predictor', {
        ETASERVE_HOST: address,
        ETASERVE_PREDICTOR_PORT: String(this.ports.predictor),
      }),
      url: `http://${address}:${this.ports.predictor}`,
    };
    this.predictors.set(address, service);
    if (options.wait ?? true) await this.ready(service, '/healthz');
    return service;
  }

  /** Gateway `i` (0 or 1), started fresh: its own filesystem, nothing carried over from a previous one. */
  async startGateway(i: number): Promise<Service> {
    const port = this.ports.gateways[i]!;
    const service = {
      container: await this.run(
        `gateway-${i + 1}`,
        'gateway',
        {
          ETASERVE_GATEWAY_PORT: String(port),
          ETASERVE_GATEWAY_ADMIN_KEY_FILE: '/run/secrets/etaserve/admin-key',
        },
        { volumes: [`${this.hostsFile}:/etc/hosts:ro`] },
      ),
      url: `http://127.0.0.1:${port}`,
    };
    this.gateways[i] = service;
    await this.ready(service);
    return service;
  }

  /** `podman rm -f`: the container and its filesystem are gone at once. */
  async remove(service: Service): Promise<void> {
    await service.container.remove();
  }

  /** Waits for `path` to answer 200; on a timeout or exit, the container's logs are in the error. */
  async ready(service: Service, probe = '/readyz', timeoutMs = 120_000): Promise<void> {
    try {
      await waitFor(
        async () => {
          const res = await fetch(`${service.url}${probe}`, { signal: AbortSignal.timeout(1000) });
          await res.body?.cancel();
          return res.ok;
        },
        timeoutMs,
        `${service.container.name} ${probe}`,
      );
    } catch (e) {
      const alive = await service.container.running();
      const logs = (await service.container.logs()).split('\n').slice(-40).join('\n');
      throw new Error(
        `${(e as Error).message} (${alive ? 'running' : 'exited'})\n--- ${service.container.name} ---\n${logs}`,
      );
    }
  }

  /** Headers of a call with the admin key (or another key). */
  auth(key = this.adminKey): Record<string, string> {
    return { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  }

  /** Headers of an internal call (predictor OIP, store internal routes). */
  internal(): Record<string, string> {
    return { 'x-etaserve-internal-token': this.token, 'content-type': 'application/json' };
  }

  /** Every container, then Redis and PostgreSQL, then the work directory. */
  async stop(): Promise<void> {
    const all = [
      ...this.gateways,
      ...this.predictors.values(),
      this.pipeline,
      this.orders,
      this.geo,
      this.store,
    ].filter((s): s is Service => s !== undefined);
    await Promise.all(all.map((s) => s.container.remove()));
    await Promise.all([this.eventsRedis.stop(), this.cacheRedis.stop(), this.postgres.stop()]);
    rmSync(this.work, { recursive: true, force: true });
  }
}
