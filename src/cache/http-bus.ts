import { createInterface } from 'node:readline';
import { setTimeout as pause } from 'node:timers/promises';
import { Type } from 'typebox';
import { request } from 'undici';
import { INTERNAL_TOKEN_HEADER, type HttpClient, type Logger, type Routes } from '../platform/index.js';
import { FollowingBus, type LocalInvalidationBus } from './invalidation.js';

/**
 * The invalidation bus without Redis: the process that runs the store module (where store changes happen) is the
 * hub, and every other process of the deployment follows it over HTTP, so a cluster without Redis hears store
 * changes as one with Redis does and caches live state and answers for as long.
 *
 * `GET /internal/cache/bus` streams NDJSON: first every store's generation (`{"generations": [[id, n], ...]}`),
 * then each invalidation (`{"cache": name, "keys": [...]}`) and each advance (`{"generations": [...]}`) in the order
 * the hub's bus saw them, and `{}` every `heartbeatMs` so a follower can tell a silent hub from a dead one. The
 * snapshot and the subscription are taken in one step, so a follower that read the first line misses nothing until
 * its stream ends. A follower drops its L1 (`resync`) when its stream ends and again when a new one starts.
 */
export const BUS_PATH = '/internal/cache/bus';

/** A follower whose stream backs up past this is cut off: it reconnects and resyncs rather than lag behind. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** How long start waits for the first snapshot before going on without it. */
const FIRST_SYNC_WAIT_MS = 2000;
const DEFAULT_HEARTBEAT_MS = 5000;
/** Consecutive failed attempts (about 5 s of them) before a follower says it cannot follow. */
const FAILURES_WORTH_A_WARNING = 10;

const InvalidateBody = Type.Object({
  cache: Type.String({ minLength: 1, maxLength: 100 }),
  keys: Type.Array(Type.String({ maxLength: 1000 }), { maxItems: 100_000 }),
});
const AdvanceBody = Type.Object({
  storeIds: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 100_000 }),
});
const Generations = Type.Array(Type.Tuple([Type.String(), Type.Integer()]));

type GenerationPairs = Array<[string, number]>;

/** The hub's routes, over the bus of the process that runs the store module. */
export function invalidationHubRoutes(
  bus: LocalInvalidationBus,
  options: { heartbeatMs?: number } = {},
): Routes {
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  return async (app) => {
    const open = new Set<() => void>();
    // A stream never ends by itself: close ends them, or the server would wait for them to.
    app.addHook('preClose', (done) => {
      for (const end of open) end();
      done();
    });
    // No HEAD: a stream has no end to send headers for.
    app.get(BUS_PATH, { logLevel: 'warn', exposeHeadRoute: false }, (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      const send = (line: unknown): void => {
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          req.log.warn('cache bus follower too slow: cutting it off (it resyncs when it reconnects)');
          res.destroy();
          return;
        }
        res.write(`${JSON.stringify(line)}\n`);
      };
      send({ generations: bus.snapshot() });
      const unsubscribe = bus.subscribe((event) => {
        if (event.type === 'invalidate') send({ cache: event.cache, keys: event.keys });
      });
      const unfollow = bus.onAdvance((generations) => send({ generations }));
      const heartbeat = setInterval(() => send({}), heartbeatMs);
      const end = (): void => {
        open.delete(end);
        clearInterval(heartbeat);
        unsubscribe();
        unfollow();
        res.end();
      };
      open.add(end);
      res.once('close', end);
    });
    app.post(
      `${BUS_PATH}/invalidate`,
      { schema: { body: InvalidateBody }, logLevel: 'warn' },
      async (req, reply) => {
        await bus.publish(req.body.cache, req.body.keys);
        return reply.code(204).send();
      },
    );
    app.post(
      `${BUS_PATH}/advance`,
      {
        schema: { body: AdvanceBody, response: { 200: Type.Object({ generations: Generations }) } },
        logLevel: 'warn',
      },
      async (req) => ({ generations: await bus.advanceTo(req.body.storeIds) }),
    );
  };
}

export interface HttpInvalidationBusOptions {
  /** The hub: the base URL of the process that runs the store module. */
  hubUrl: string;
  /** Posts invalidations and advances to the hub (its deadline and internal token set). */
  client: Pick<HttpClient, 'request'>;
  internalToken: string | undefined;
  logger: Logger;
  /** The hub's heartbeat: a stream silent for three of them is taken for dead. */
  heartbeatMs?: number;
}

/**
 * A follower of the hub. Like the Redis bus, it trusts its generations only while its stream is up and synced:
 * between streams, `generation` is undefined, so answers are keyed for a few seconds only (CacheKeys).
 */
export class HttpInvalidationBus extends FollowingBus {
  private closed = false;
  private readonly abort = new AbortController();
  private following: Promise<void> | undefined;
  private readonly heartbeatMs: number;

  constructor(private readonly options: HttpInvalidationBusOptions) {
    super();
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  }

  async publish(cache: string, keys: string[]): Promise<boolean> {
    try {
      await this.options.client.request('POST', `${BUS_PATH}/invalidate`, { cache, keys });
      return true;
    } catch {
      return false;
    }
  }

  async advance(storeIds: readonly string[]): Promise<boolean> {
    if (storeIds.length === 0) return true;
    try {
      const answer = await this.options.client.request<{ generations: GenerationPairs }>(
        'POST',
        `${BUS_PATH}/advance`,
        { storeIds },
      );
      for (const [id, n] of answer.generations) this.heard(id, n);
      return true;
    } catch {
      return false;
    }
  }

  async start(): Promise<void> {
    this.following ??= this.follow();
    const deadline = Date.now() + FIRST_SYNC_WAIT_MS;
    while (!this.synced && !this.closed && Date.now() < deadline) await pause(10, undefined, { ref: false });
    if (!this.synced)
      this.options.logger.warn(
        { hub: this.options.hubUrl },
        'cache bus: store changes not heard yet: answers are cached briefly until the store process is reachable',
      );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.synced = false;
    this.abort.abort();
    await this.following;
    await this.local.close();
  }

  /** One stream after another until closed; each new stream starts with a snapshot and drops L1. */
  private async follow(): Promise<void> {
    for (let failures = 0; !this.closed;) {
      let error: unknown;
      const reachedSnapshot = await this.readStream().catch((e: unknown) => {
        error = e;
        return false;
      });
      if (this.closed) return;
      if (this.synced) {
        this.synced = false;
        // The hub is the store process: without it, what L1 holds of stores can no longer be kept right. Dropped,
        // lookups go to the store service and, while it is down, to last known values marked degraded.
        this.local.resync();
        this.options.logger.warn(
          { hub: this.options.hubUrl },
          'cache bus: lost the store process: dropped L1; answers are cached briefly until it is back',
        );
      }
      failures = reachedSnapshot ? 1 : failures + 1;
      // A store process that refuses the stream (another version, another token) is worth saying so, once.
      if (failures === FAILURES_WORTH_A_WARNING)
        this.options.logger.warn(
          { hub: this.options.hubUrl, err: error },
          'cache bus: cannot follow the store process: still trying; answers are cached briefly meanwhile',
        );
      // Cut short by close, which would otherwise wait out the pause.
      await pause(Math.min(100 * failures, 2000), undefined, { signal: this.abort.signal, ref: false }).catch(
        () => undefined,
      );
    }
  }

  /** Reads one stream to its end; resolves whether it got as far as the snapshot. */
  private async readStream(): Promise<boolean> {
    const headers: Record<string, string> = { accept: 'application/x-ndjson' };
    if (this.options.internalToken) headers[INTERNAL_TOKEN_HEADER] = this.options.internalToken;
    const { statusCode, body } = await request(new URL(BUS_PATH, this.options.hubUrl), {
      headers,
      signal: this.abort.signal,
      headersTimeout: this.heartbeatMs * 3,
      bodyTimeout: this.heartbeatMs * 3,
    });
    if (statusCode !== 200) {
      await body.dump();
      throw new Error(`cache bus: the hub answered ${statusCode}`);
    }
    let snapshot = false;
    for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
      if (!snapshot) {
        this.sync(line);
        snapshot = true;
      } else this.onLine(line);
    }
    return snapshot;
  }

  private sync(line: string): void {
    const { generations } = JSON.parse(line) as { generations: GenerationPairs };
    this.generations.clear();
    for (const [id, n] of generations) this.heard(id, n);
    // Whatever L1 holds may predate changes this process did not hear: drop it before trusting the bus again.
    this.local.resync();
    this.synced = true;
    this.options.logger.info({ hub: this.options.hubUrl }, 'cache bus: hearing store changes');
  }

  private onLine(line: string): void {
    const message = JSON.parse(line) as { generations?: GenerationPairs; cache?: string; keys?: string[] };
    if (message.generations) for (const [id, n] of message.generations) this.heard(id, n);
    else if (message.cache !== undefined && message.keys)
      void this.local.publish(message.cache, message.keys);
  }
}
