import { EventEmitter } from 'node:events';
import { within, type Logger } from '../platform/index.js';
import type { GenerationSource } from './keys.js';
import type { RedisClient, RedisConnection } from './redis-connection.js';

export const INVALIDATION_CHANNEL = 'etaserve:invalidate';
/** Where advanced generations are announced: `{"generations": {"<store id>": n, ...}}`. */
export const GENERATION_CHANNEL = 'etaserve:generations';
/** The hash of every store's current generation, so a process that starts or reconnects learns them all. */
export const GENERATIONS_KEY = 'etaserve:generations';

/** How long start waits for the subscription before going on without it. */
const SUBSCRIBE_WAIT_MS = 2000;

/**
 * What every replica's L1 hears: keys of a cache to drop, or `resync` after the bus was disconnected and may have
 * missed some, so the whole L1 is dropped rather than trusted.
 */
export type InvalidationEvent = { type: 'invalidate'; cache: string; keys: string[] } | { type: 'resync' };
export type InvalidationListener = (event: InvalidationEvent) => void;

export interface InvalidationBus extends GenerationSource {
  /** Tells every replica (this one included) to drop the keys. Resolves false when it could not be sent. */
  publish(cache: string, keys: string[]): Promise<boolean>;
  /** Returns the unsubscribe function. */
  subscribe(listener: InvalidationListener): () => void;
  /**
   * Moves each store to its next change generation in every process (keys built on generations, the gateway's
   * responses, then name new entries). Resolves false when it could not: the caller tries again, since a change
   * whose generation never moved would leave old answers in use.
   */
  advance(storeIds: readonly string[]): Promise<boolean>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The embedded default and the test double: replicas in one process hear each other through an emitter. */
export class LocalInvalidationBus implements InvalidationBus {
  private readonly emitter = new EventEmitter();
  private readonly generations = new Map<string, number>();

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

  generation(storeId: string): number {
    return this.generations.get(storeId) ?? 0;
  }

  async advance(storeIds: readonly string[]): Promise<boolean> {
    await this.advanceTo(storeIds);
    return true;
  }

  /** Advances the stores and tells `onAdvance` listeners; resolves each store's new generation. */
  async advanceTo(storeIds: readonly string[]): Promise<Array<[string, number]>> {
    const advanced: Array<[string, number]> = storeIds.map((id) => {
      const n = this.generation(id) + 1;
      this.generations.set(id, n);
      return [id, n];
    });
    if (advanced.length > 0) this.emitter.emit('advance', advanced);
    return advanced;
  }

  /** Hears every advance (the HTTP hub forwards them); returns the unsubscribe function. */
  onAdvance(listener: (generations: Array<[string, number]>) => void): () => void {
    this.emitter.on('advance', listener);
    return () => this.emitter.off('advance', listener);
  }

  /** Every store's generation, for a follower that starts or reconnects. */
  snapshot(): Array<[string, number]> {
    return [...this.generations];
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

/**
 * A bus whose generations are numbered elsewhere (Redis, the store process): the generations it heard, trusted only
 * while `synced`, and the in-process emitter this process's caches listen on.
 */
export abstract class FollowingBus implements InvalidationBus {
  protected readonly local = new LocalInvalidationBus();
  protected readonly generations = new Map<string, number>();
  protected synced = false;

  abstract publish(cache: string, keys: string[]): Promise<boolean>;
  abstract advance(storeIds: readonly string[]): Promise<boolean>;
  abstract start(): Promise<void>;
  abstract close(): Promise<void>;

  subscribe(listener: InvalidationListener): () => void {
    return this.local.subscribe(listener);
  }

  generation(storeId: string): number | undefined {
    return this.synced ? (this.generations.get(storeId) ?? 0) : undefined;
  }

  protected heard(storeId: string, generation: number): void {
    if (Number.isFinite(generation) && generation > (this.generations.get(storeId) ?? 0))
      this.generations.set(storeId, generation);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Fields per HSCAN call when learning generations: each call stays small enough for the command deadline. */
const SCAN_COUNT = 1000;

/**
 * Redis pub/sub on `etaserve:invalidate`; one subscriber connection per process, shared by every cache. Store
 * generations live in the hash `etaserve:generations` (HINCRBY, so every process agrees on the numbers) and are
 * announced on `etaserve:generations`. A process trusts its generations only from the moment it has scanned the
 * hash with the subscription in place until its subscriber connection drops: in between nothing can be missed.
 */
export class RedisInvalidationBus extends FollowingBus {
  private subscriber: RedisClient | undefined;
  private everReady = false;
  private disconnected = false;
  private closed = false;
  /** Moves at every connection change, so a scan that outlived its connection cannot mark the bus synced. */
  private epoch = 0;

  constructor(
    private readonly connection: RedisConnection,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {
    super();
  }

  publish(cache: string, keys: string[]): Promise<boolean> {
    return this.send(INVALIDATION_CHANNEL, JSON.stringify({ cache, keys }));
  }

  async advance(storeIds: readonly string[]): Promise<boolean> {
    if (storeIds.length === 0) return true;
    if (!this.connection.ready) return false;
    const pipeline = this.connection.client.pipeline();
    for (const id of storeIds) pipeline.hincrby(GENERATIONS_KEY, id, 1);
    const replies = await this.exec(pipeline);
    if (!replies || replies.length !== storeIds.length) return false;
    const advanced: Array<[string, number]> = [];
    const behind: Array<[string, number]> = [];
    for (const [i, [error, value]] of replies.entries()) {
      if (error) return false;
      const id = storeIds[i]!;
      // A failed-over Redis may have lost increments; a generation must still never repeat one already in use.
      const known = this.synced ? (this.generations.get(id) ?? 0) : 0;
      const n = Math.max(Number(value), known + 1);
      if (n > Number(value)) behind.push([id, n]);
      advanced.push([id, n]);
    }
    if (behind.length > 0) {
      const fix = this.connection.client.pipeline();
      for (const [id, n] of behind) fix.hset(GENERATIONS_KEY, id, n);
      if (!(await this.exec(fix))) return false;
    }
    for (const [id, n] of advanced) this.heard(id, n);
    return this.send(GENERATION_CHANNEL, JSON.stringify({ generations: advanced }));
  }

  async start(): Promise<void> {
    const sub = this.connection.subscriberClient();
    this.subscriber = sub;
    sub.on('error', () => undefined); // reported by the command connection; reconnection is automatic
    sub.on('close', () => {
      if (this.everReady) this.disconnected = true;
      // Changes published from now on are not heard: keys built on generations stop trusting them at once.
      this.synced = false;
      this.epoch++;
    });
    sub.on('ready', () => {
      this.everReady = true;
      const epoch = ++this.epoch;
      this.generations.clear();
      void this.sync(epoch);
      if (!this.disconnected) return;
      this.disconnected = false;
      // Invalidations published while this replica was not listening are lost; drop L1 instead of serving them.
      this.logger.info(
        'invalidation bus reconnected: dropping L1 entries that may have missed invalidations',
      );
      this.local.resync();
    });
    sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    // Queued until the connection is up. Start waits a little for it, so invalidations published right after start
    // are heard, but a Redis that is down does not hold start up: the subscription completes in the background.
    const subscribed = sub.subscribe(INVALIDATION_CHANNEL, GENERATION_CHANNEL).then(
      () => true,
      () => false,
    );
    const deadline = Date.now() + SUBSCRIBE_WAIT_MS;
    // Nothing to wait for while Redis is down: the connection retries in the background.
    let ok = this.connection.ready && (await within(subscribed, SUBSCRIBE_WAIT_MS)) === true;
    while (ok && !this.synced && Date.now() < deadline) await sleep(10);
    ok &&= this.synced;
    if (!ok)
      this.logger.warn(
        'invalidation bus not subscribed yet: continuing, it subscribes once Redis is reachable',
      );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.synced = false;
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

  /** The pipeline's replies; undefined when it failed or outlived the command deadline. */
  private async exec(pipeline: ReturnType<RedisClient['pipeline']>) {
    return (await within(pipeline.exec(), this.timeoutMs).catch(() => undefined)) ?? undefined;
  }

  private async send(channel: string, message: string): Promise<boolean> {
    if (!this.connection.ready) return false;
    const sent = this.connection.client.publish(channel, message).then(
      () => true,
      () => false,
    );
    return (await within(sent, this.timeoutMs)) ?? false;
  }

  /**
   * Learns every generation once the subscription is in place: one advanced after the scan is announced to this
   * subscriber, one before it is in the hash. Retries (the command connection may come up later) until this
   * connection ends.
   */
  private async sync(epoch: number): Promise<void> {
    for (let attempt = 1; !this.closed && epoch === this.epoch; attempt++) {
      try {
        await this.subscriber?.subscribe(INVALIDATION_CHANNEL, GENERATION_CHANNEL);
        let cursor = '0';
        do {
          const [next, flat] = await this.connection.client.hscan(
            GENERATIONS_KEY,
            cursor,
            'COUNT',
            SCAN_COUNT,
          );
          if (epoch !== this.epoch) return;
          for (let i = 0; i + 1 < flat.length; i += 2) this.heard(flat[i]!, Number(flat[i + 1]));
          cursor = next;
        } while (cursor !== '0');
        this.synced = true;
        return;
      } catch {
        await sleep(Math.min(100 * attempt, 2000));
      }
    }
  }

  private onMessage(channel: string, message: string): void {
    try {
      if (channel === GENERATION_CHANNEL) {
        const parsed = JSON.parse(message) as { generations?: unknown };
        if (!Array.isArray(parsed.generations)) return;
        for (const pair of parsed.generations as unknown[]) {
          if (Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'number')
            this.heard(pair[0], pair[1]);
        }
        return;
      }
      if (channel !== INVALIDATION_CHANNEL) return;
      const parsed = JSON.parse(message) as { cache?: unknown; keys?: unknown };
      if (typeof parsed.cache !== 'string' || !Array.isArray(parsed.keys)) return;
      const keys = parsed.keys.filter((k): k is string => typeof k === 'string');
      void this.local.publish(parsed.cache, keys);
    } catch {
      this.logger.warn({ channel }, 'ignoring malformed invalidation message');
    }
  }
}
