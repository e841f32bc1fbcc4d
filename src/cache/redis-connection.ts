import { Cluster, Redis } from 'ioredis';
import type { Gauge, Logger } from '../platform/index.js';

export type RedisClient = Redis | Cluster;

export interface RedisConnectionOptions {
  /** Standalone Redis URL; ignored when clusterNodes is not empty. */
  url: string;
  /** host:port seeds of a Redis Cluster. */
  clusterNodes: string[];
  /** Deadline of one command; L2 calls past it are given up. */
  commandTimeoutMs: number;
  logger: Logger;
  up: Gauge;
}

/** How long start waits for Redis before serving from L1 alone. */
const CONNECT_WAIT_MS = 3000;

/** Reconnect backoff: 100 ms doubling to 2 s, with jitter so replicas do not reconnect in lockstep. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(100 * 2 ** Math.min(attempt - 1, 5), 2000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

function parseNode(node: string): { host: string; port: number } {
  const i = node.lastIndexOf(':');
  return { host: node.slice(0, i), port: Number(node.slice(i + 1)) };
}

/**
 * One Redis connection per process, shared by every cache. While Redis is down commands fail at once (no offline
 * queue, no per-request retries) so requests never wait on it; ioredis reconnects in the background. Down and
 * recovery are logged once each, not per request.
 */
export class RedisConnection {
  readonly client: RedisClient;
  readonly mode: 'standalone' | 'cluster';
  private up = false;
  private everUp = false;
  private downLogged = false;
  private closed = false;

  constructor(private readonly options: RedisConnectionOptions) {
    this.mode = options.clusterNodes.length > 0 ? 'cluster' : 'standalone';
    this.client = this.mode === 'cluster' ? this.createCluster() : this.createStandalone();
    options.up.set(0);
    this.client.on('ready', () => this.markUp());
    this.client.on('error', (e: Error) => this.markDown(e));
    this.client.on('close', () => this.markDown());
    this.client.on('end', () => this.markDown());
  }

  /** Whether commands can be sent now; L2 calls skip Redis entirely otherwise. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /**
   * Connects, but never fails: an unreachable Redis at start is logged, and reconnection goes on in the
   * background while L1 serves.
   */
  async connect(): Promise<void> {
    // ioredis' Cluster.connect() can stay pending forever when its first ready check fails while it keeps
    // reconnecting in the background (ioredis #709, #741): start waits for ready, a failure, or a short deadline.
    const connected = this.client.connect().catch((e: Error) => this.markDown(e));
    const ready = new Promise<void>((resolve) => this.client.once('ready', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CONNECT_WAIT_MS);
    });
    await Promise.race([connected, ready, deadline]);
    clearTimeout(timer);
    if (!this.ready) this.markDown();
  }

  /** A second connection for pub/sub, which a subscribed connection cannot share with commands. */
  subscriberClient(): RedisClient {
    // The subscriber queues its SUBSCRIBE until connected and resubscribes after every reconnect.
    const overrides = { enableOfflineQueue: true, lazyConnect: true };
    const sub =
      this.client instanceof Cluster
        ? this.client.duplicate(undefined, overrides)
        : this.client.duplicate({ ...overrides, maxRetriesPerRequest: null });
    return sub;
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
    this.options.up.set(0);
  }

  private markUp(): void {
    if (this.up) return;
    this.up = true;
    this.everUp = true;
    this.options.up.set(1);
    const target = this.describe();
    if (this.downLogged)
      this.options.logger.info({ redis: target }, 'redis L2 recovered: shared cache in use again');
    else this.options.logger.info({ redis: target }, 'redis L2 connected');
    this.downLogged = false;
  }

  private markDown(e?: Error): void {
    // An error while still ready is one command's (or, in a cluster, one failing-over node's), not an outage.
    if (this.closed || this.client.status === 'ready') return;
    this.up = false;
    this.options.up.set(0);
    if (this.downLogged) return;
    this.downLogged = true;
    this.options.logger.warn(
      { redis: this.describe(), err: e?.message },
      this.everUp
        ? 'redis L2 down: serving from L1 only, reconnecting in the background'
        : 'redis L2 unavailable: serving from L1 only, retrying in the background',
    );
  }

  private describe(): string {
    if (this.mode === 'cluster') return `cluster ${this.options.clusterNodes.join(',')}`;
    // The URL may carry a password; log only where it points.
    try {
      const u = new URL(this.options.url);
      return `${u.hostname}:${u.port || '6379'}`;
    } catch {
      return 'standalone';
    }
  }

  private createStandalone(): Redis {
    return new Redis(this.options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.options.commandTimeoutMs,
      connectTimeout: 1000,
      retryStrategy: reconnectDelay,
      // Concurrent commands issued in one tick go out as one write.
      enableAutoPipelining: true,
    });
  }

  private createCluster(): Cluster {
    return new Cluster(this.options.clusterNodes.map(parseNode), {
      lazyConnect: true,
      enableOfflineQueue: false,
      scaleReads: 'master',
      // Groups the commands of one tick into one pipeline per node: a list page's GETs cross slots.
      enableAutoPipelining: true,
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: 500,
      // A failed-over master is found by the periodic refresh even when no MOVED reply points to it.
      slotsRefreshInterval: 2000,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      maxRedirections: 4,
      redisOptions: {
        maxRetriesPerRequest: 0,
        commandTimeout: this.options.commandTimeoutMs,
        connectTimeout: 500,
      },
    });
  }
}
