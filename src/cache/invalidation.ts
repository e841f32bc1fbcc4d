import { EventEmitter } from 'node:events';
import type { Logger } from '../platform/index.js';
import type { RedisClient, RedisConnection } from './redis-connection.js';

export const INVALIDATION_CHANNEL = 'etaserve:invalidate';

/** How long start waits for the subscription before going on without it. */
const SUBSCRIBE_WAIT_MS = 2000;

/**
 * What every replica's L1 hears: keys of a cache to drop, or `resync` after the bus was disconnected and may have
 * missed some, so the whole L1 is dropped rather than trusted.
 */
export type InvalidationEvent = { type: 'invalidate'; cache: string; keys: string[] } | { type: 'resync' };
export type InvalidationListener = (event: InvalidationEvent) => void;

export interface InvalidationBus {
  /** Tells every replica (this one included) to drop the keys. Resolves false when it could not be sent. */
  publish(cache: string, keys: string[]): Promise<boolean>;
  /** Returns the unsubscribe function. */
  subscribe(listener: InvalidationListener): () => void;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The embedded default and the test double: replicas in one process hear each other through an emitter. */
export class LocalInvalidationBus implements InvalidationBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every cache of a process subscribes; that is not a leak.
    this.emitter.setMaxListeners(0);
  }

  async publish(cache: string, keys: string[]): Promise<boolean> {
    this.emitter.emit('event', { type: 'invalidate', cache, keys } satisfies InvalidationEvent);
    return true;
  }

  subscribe(listener: InvalidationListener): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  /** Lets a test model a replica that reconnected after missing messages. */
  resync(): void {
    this.emitter.emit('event', { type: 'resync' } satisfies InvalidationEvent);
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/** Redis pub/sub on `etaserve:invalidate`; one subscriber connection per process, shared by every cache. */
export class RedisInvalidationBus implements InvalidationBus {
  private readonly local = new LocalInvalidationBus();
  private subscriber: RedisClient | undefined;
  private everReady = false;
  private disconnected = false;

  constructor(
    private readonly connection: RedisConnection,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  async publish(cache: string, keys: string[]): Promise<boolean> {
    if (!this.connection.ready) return false;
    const message = JSON.stringify({ cache, keys });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>(
      (resolve) => (timer = setTimeout(() => resolve(false), this.timeoutMs)),
    );
    const sent = this.connection.client.publish(INVALIDATION_CHANNEL, message).then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([sent, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  subscribe(listener: InvalidationListener): () => void {
    return this.local.subscribe(listener);
  }

  async start(): Promise<void> {
    const sub = this.connection.subscriberClient();
    this.subscriber = sub;
    sub.on('error', () => undefined); // reported by the command connection; reconnection is automatic
    sub.on('close', () => {
      if (this.everReady) this.disconnected = true;
    });
    sub.on('ready', () => {
      this.everReady = true;
      if (!this.disconnected) return;
      this.disconnected = false;
      // Invalidations published while this replica was not listening are lost; drop L1 instead of serving them.
      this.logger.info(
        'invalidation bus reconnected: dropping L1 entries that may have missed invalidations',
      );
      this.local.resync();
    });
    sub.on('message', (channel: string, message: string) => {
      if (channel !== INVALIDATION_CHANNEL) return;
      try {
        const parsed = JSON.parse(message) as { cache?: unknown; keys?: unknown };
        if (typeof parsed.cache !== 'string' || !Array.isArray(parsed.keys)) return;
        const keys = parsed.keys.filter((k): k is string => typeof k === 'string');
        void this.local.publish(parsed.cache, keys);
      } catch {
        this.logger.warn({ channel }, 'ignoring malformed invalidation message');
      }
    });
    // Queued until the connection is up. Start waits a little for it, so invalidations published right after start
    // are heard, but a Redis that is down does not hold start up: the subscription completes in the background.
    const subscribed = sub.subscribe(INVALIDATION_CHANNEL).then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<false>(
      (resolve) => (timer = setTimeout(() => resolve(false), SUBSCRIBE_WAIT_MS)),
    );
    // Nothing to wait for while Redis is down: the connection retries in the background.
    const ok = this.connection.ready ? await Promise.race([subscribed, waited]) : false;
    clearTimeout(timer);
    if (!ok)
      this.logger.warn(
        'invalidation bus not subscribed yet: continuing, it subscribes once Redis is reachable',
      );
  }

  async close(): Promise<void> {
    await this.local.close();
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (!sub) return;
    try {
      await sub.quit();
    } catch {
      sub.disconnect();
    }
  }
}
