import { promises as dns } from 'node:dns';
import type { Logger } from '../../platform/index.js';
import type { PredictorBalancer, ReplicaPredictor } from './balancer.js';

/** Every address of a name. */
export type Resolve = (host: string) => Promise<Array<{ address: string; family: number }>>;

/**
 * getaddrinfo through `lookup`, not `resolve4`/`resolve6`: it honours /etc/hosts and nsswitch (a container's
 * `--add-host`, a test machine's hosts entry) and the resolv.conf search list the way every other program on the
 * pod does, and it answers both families. It runs on libuv's thread pool, which one lookup per name every few
 * seconds does not strain.
 */
export const lookupAll: Resolve = (host) => dns.lookup(host, { all: true, verbatim: true });

/** One address behind a predictor URL: a replica of its own. */
export interface Endpoint {
  /** `host@ip:port`: the replica's name in metrics, logs and the balancer's status. */
  name: string;
  /** The URL with the resolved address in place of the name: where the connection goes. */
  url: string;
  /** The URL's `host[:port]`: the Host header of every call, so the request still names the service. */
  hostHeader: string;
}

/** The endpoints of one predictor URL for the given addresses (duplicates dropped). */
export function endpointsOf(
  url: string,
  addresses: ReadonlyArray<{ address: string; family: number }>,
): Endpoint[] {
  const parsed = new URL(url);
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  const path = parsed.pathname.replace(/\/$/, '');
  const seen = new Map<string, Endpoint>();
  for (const { address, family } of addresses) {
    const ip = family === 6 ? `[${address}]` : address;
    const name = `${parsed.hostname}@${ip}:${port}`;
    if (!seen.has(name))
      seen.set(name, { name, url: `${parsed.protocol}//${ip}:${port}${path}`, hostHeader: parsed.host });
  }
  return [...seen.values()];
}

export interface DiscoveryOptions {
  /** The predictor URLs whose names are resolved (`topology.predictorUrls`). */
  urls: readonly string[];
  /** How often every name is resolved again. */
  intervalMs: number;
  /** The least time between two resolutions that a connection failure asks for. */
  minGapMs?: number;
  resolve?: Resolve;
  /** A replica's client for one endpoint: its own connection pool. */
  client: (endpoint: Endpoint) => ReplicaPredictor;
  logger: Logger;
}

/**
 * Keeps the balancer's replicas equal to the addresses behind the predictor URLs (a Kubernetes headless Service
 * answers with every ready pod's address): resolved at start, every `intervalMs`, and soon after a replica's
 * connection fails, at most once per `minGapMs`. A name that fails to resolve or resolves to nothing keeps its last
 * known addresses: a DNS hiccup must not empty the set when the pods themselves may be fine.
 */
export class PredictorDiscovery {
  private readonly resolve: Resolve;
  private readonly minGapMs: number;
  /** The last non-empty answer per URL. */
  private readonly known = new Map<string, Endpoint[]>();
  private timer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private lastStartedAt = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly balancer: PredictorBalancer,
    private readonly options: DiscoveryOptions,
  ) {
    for (const url of options.urls) {
      const protocol = new URL(url).protocol;
      if (protocol !== 'http:')
        throw new Error(
          `predictor discovery needs http URLs (${url}): over TLS the certificate would have to name each pod address`,
        );
    }
    this.resolve = options.resolve ?? lookupAll;
    this.minGapMs = options.minGapMs ?? 1000;
  }

  /** The first resolution (new replicas warmed), then the periodic ones. Never fails: no answer = no replica yet. */
  async start(): Promise<void> {
    this.stopped = false;
    this.balancer.onConnectionFailure(() => this.soon());
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soonTimer);
    this.timer = undefined;
    this.soonTimer = undefined;
  }

  /** A resolution as soon as the rate limit allows; calls in between ask for the same one. */
  soon(): void {
    if (this.stopped || this.soonTimer) return;
    const wait = Math.max(0, this.lastStartedAt + this.minGapMs - Date.now());
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.refresh();
    }, wait);
    this.soonTimer.unref();
  }

  /** Resolves every name and reconciles the balancer; one at a time (a call during one runs once more after it). */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        this.lastStartedAt = Date.now();
        await this.once();
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async once(): Promise<void> {
    const { logger } = this.options;
    await Promise.all(
      this.options.urls.map(async (url) => {
        const host = new URL(url).hostname;
        let addresses: Array<{ address: string; family: number }> = [];
        let error: string | undefined;
        try {
          addresses = await this.resolve(host);
        } catch (e) {
          error = (e as Error).message;
        }
        const endpoints = endpointsOf(url, addresses);
        if (endpoints.length > 0) this.known.set(url, endpoints);
        else
          logger.warn(
            { host, error, kept: (this.known.get(url) ?? []).map((e) => e.name) },
            'predictor name resolved to no address: keeping the last known replicas',
          );
      }),
    );
    if (this.stopped) return;
    const wanted = new Map<string, () => ReplicaPredictor>();
    for (const endpoints of this.known.values())
      for (const endpoint of endpoints) wanted.set(endpoint.name, () => this.options.client(endpoint));
    const { added, removed } = await this.balancer.reconcile(wanted);
    if (added.length > 0 || removed.length > 0)
      logger.info({ added, removed, replicas: [...wanted.keys()] }, 'predictor replicas changed');
  }
}
