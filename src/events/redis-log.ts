import os from 'node:os';
import { Redis } from 'ioredis';
import { bucketMsOf, hashId, type ShortenedWindow } from './dedupe.js';
import { collectOrders, forgetResult, redact, scopeOf } from './redact.js';
import { checkGroup } from './offsets-store.js';
import { RedisSubscription, startIdOf } from './redis-subscription.js';
import type {
  AppendResult,
  EtaEvent,
  EventLog,
  ForgetHook,
  ForgetRequest,
  ForgetResult,
  LogOffset,
  LogRecord,
  LogStats,
  ReadResult,
  RecordHandler,
  RetentionResult,
  StartAt,
  SubscribeOptions,
  Subscription,
} from './types.js';

export interface RedisLogOptions {
  url: string;
  /**
   * The stream is `{stream}` and the dedupe buckets `{stream}:d:<bucket>`: one hash slot, so it works on a cluster
   * node too.
   */
  stream: string;
  dedupeWindowMs: number;
  /**
   * Most ids the dedupe buckets hold together (default 24,000,000, as events.dedupeMaxIds); reaching it drops the
   * oldest bucket, told to onDedupeShortened.
   */
  dedupeMaxIds?: number;
  retentionMs: number;
  maxDiskBytes: number;
  now?: () => number;
  /** Told of a Redis setting that puts acknowledged events or dedupe at risk (checked at open). */
  onProblem?: (problem: { level: 'error' | 'warn'; message: string }) => void;
  onDedupeShortened?: (info: ShortenedWindow) => void;
}

/**
 * Dedupe and append in one script, so two gateways replaying the same event race inside Redis and only one XADDs
 * it. Ids are 128-bit hashes (dedupe.ts) in one set per time bucket (window / 15 wide): KEYS[2..] are the buckets
 * that may hold ids of the window, oldest first, the current one last; each expires one window after its end. A
 * repeat within the window is always found; at the id bound (ARGV[3]) the oldest bucket is dropped and counted.
 */
const APPEND = `
local cur = KEYS[#KEYS]
local max = tonumber(ARGV[3])
local held = 0
for b = 2, #KEYS do held = held + redis.call('SCARD', KEYS[b]) end
local out = {}
local dropped = 0
local n = (#ARGV - 3) / 2
for i = 1, n do
  local h = ARGV[2 + 2 * i]
  local seen = false
  for b = #KEYS, 2, -1 do
    if redis.call('SISMEMBER', KEYS[b], h) == 1 then
      seen = true
      break
    end
  end
  if seen then
    out[i] = false
  else
    if held >= max then
      for b = 2, #KEYS - 1 do
        local c = redis.call('SCARD', KEYS[b])
        if c > 0 then
          redis.call('DEL', KEYS[b])
          held = held - c
          dropped = dropped + c
          break
        end
      end
    end
    redis.call('SADD', cur, h)
    held = held + 1
    out[i] = redis.call('XADD', KEYS[1], '*', 't', ARGV[1], 'e', ARGV[3 + 2 * i])
  end
end
redis.call('PEXPIREAT', cur, ARGV[2])
return {out, dropped}`;

export type StreamEntry = [id: string, fields: string[]];

export function recordOf([id, fields]: StreamEntry): LogRecord {
  let t = 0;
  let e = '{}';
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 't') t = Number(fields[i + 1]);
    else if (fields[i] === 'e') e = fields[i + 1]!;
  }
  return { offset: id, ingestedAtMs: t, event: JSON.parse(e) as EtaEvent };
}

export function compareIds(a: LogOffset, b: LogOffset): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

/**
 * The event log on Redis Streams: XADD per event, consumer groups with XREADGROUP and XACK. Durable as far as
 * Redis is: acknowledged writes survive a crash only with `appendonly yes` and `appendfsync always` (docs/events.md).
 */
export class RedisEventLog implements EventLog {
  readonly kind = 'redis' as const;
  readonly key: string;
  readonly client: Redis;
  private readonly hooks: ForgetHook[] = [];
  private readonly consumer = `${os.hostname()}-${process.pid}`;
  private readonly now: () => number;
  readonly bucketMs: number;
  /** Settings found wrong at open (readiness: degraded). */
  private readonly problems: string[] = [];

  constructor(private readonly options: RedisLogOptions) {
    this.key = `{${options.stream}}`;
    this.now = options.now ?? Date.now;
    this.bucketMs = bucketMsOf(Math.max(1, options.dedupeWindowMs));
    this.client = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  }

  async open(): Promise<void> {
    await this.client.connect();
    await this.checkSettings();
  }

  /**
   * Dedupe sets evicted under memory pressure would let replays in twice, and stream entries evicted would be lost:
   * the log's Redis must be `noeviction` (a separate instance from the cache), with AOF for durability.
   */
  private async checkSettings(): Promise<void> {
    const get = async (name: string): Promise<string | undefined> => {
      const reply = (await this.client.config('GET', name)) as string[];
      return reply[1];
    };
    const problem = (level: 'error' | 'warn', message: string): void => {
      if (level === 'error') this.problems.push(message);
      this.options.onProblem?.({ level, message });
    };
    try {
      const policy = await get('maxmemory-policy');
      if (policy !== undefined && policy !== 'noeviction')
        problem(
          'error',
          `the event log's Redis has maxmemory-policy ${policy}: dedupe ids and events can be evicted; set noeviction (a separate Redis from the cache)`,
        );
      const aof = await get('appendonly');
      if (aof !== undefined && aof !== 'yes')
        problem(
          'warn',
          `the event log's Redis has appendonly ${aof}: acknowledged events are lost if it restarts`,
        );
    } catch (e) {
      problem('warn', `could not read the event log's Redis settings (CONFIG GET): ${(e as Error).message}`);
    }
  }

  /** Readiness reasons: settings that put the log at risk. */
  health(): { appendable: boolean; problems: string[] } {
    return { appendable: true, problems: [...this.problems] };
  }

  /** The dedupe bucket keys that may hold ids of the window at `nowMs`, oldest first. */
  bucketKeys(nowMs: number): string[] {
    const first = Math.floor((nowMs - this.options.dedupeWindowMs) / this.bucketMs);
    const current = Math.floor(nowMs / this.bucketMs);
    const keys: string[] = [];
    for (let b = Math.max(0, first); b <= current; b++) keys.push(`${this.key}:d:${b}`);
    return keys;
  }

  async append(events: readonly EtaEvent[]): Promise<AppendResult> {
    const now = this.now();
    const current = Math.floor(now / this.bucketMs);
    const expireAt = (current + 1) * this.bucketMs + this.options.dedupeWindowMs;
    const args: Array<string | Buffer> = [
      String(now),
      String(expireAt),
      String(this.options.dedupeMaxIds ?? 24_000_000),
    ];
    for (const e of events) args.push(Buffer.from(hashId(e.event_id).slice().buffer), JSON.stringify(e));
    const keys = [this.key, ...this.bucketKeys(now)];
    const [ids, dropped] = (await this.client.eval(APPEND, keys.length, ...keys, ...args)) as [
      Array<string | null>,
      number,
    ];
    if (dropped > 0) {
      const oldest = Math.floor((now - this.options.dedupeWindowMs) / this.bucketMs);
      this.options.onDedupeShortened?.({
        droppedIds: dropped,
        heldMs: Math.max(0, now - (oldest + 1) * this.bucketMs),
        windowMs: this.options.dedupeWindowMs,
      });
    }
    return { offsets: events.map((_, i) => ids[i] ?? null) };
  }

  /** Cursors are exclusive: `next` is the id of the last record read, and '0-0' is before everything. */
  async cursorOf(from: LogOffset | StartAt): Promise<string> {
    if (from === 'earliest') return '0-0';
    if (from === 'latest') return (await this.lastId()) ?? '0-0';
    if (typeof from === 'string') return from;
    if ('offset' in from) return from.offset;
    return from.sinceMs > 0 ? `${from.sinceMs - 1}-18446744073709551615` : '0-0';
  }

  private async lastId(): Promise<string | undefined> {
    const last = (await this.client.xrevrange(this.key, '+', '-', 'COUNT', 1)) as StreamEntry[];
    return last[0]?.[0];
  }

  async read(from: LogOffset | StartAt, max: number): Promise<ReadResult> {
    const cursor = await this.cursorOf(from);
    if (max <= 0) return { records: [], next: cursor };
    const entries = (await this.client.xrange(this.key, `(${cursor}`, '+', 'COUNT', max)) as StreamEntry[];
    const records = entries.map(recordOf);
    return { records, next: records.at(-1)?.offset ?? cursor };
  }

  async committed(group: string): Promise<LogOffset | undefined> {
    checkGroup(group);
    const groups = (await this.client.xinfo('GROUPS', this.key).catch(() => [])) as unknown[][];
    for (const g of groups) {
      const info = Object.fromEntries(pairs(g));
      if (info.name === group) return String(info['last-delivered-id']);
    }
    return undefined;
  }

  async commit(group: string, next: LogOffset): Promise<void> {
    checkGroup(group);
    try {
      await this.client.xgroup('SETID', this.key, group, next);
    } catch {
      await this.client.xgroup('CREATE', this.key, group, next, 'MKSTREAM');
    }
  }

  subscribe(group: string, handler: RecordHandler, options: SubscribeOptions = {}): Subscription {
    checkGroup(group);
    return new RedisSubscription(this, group, this.consumer, handler, options);
  }

  async groupStart(start: StartAt | undefined): Promise<string> {
    if (start === undefined || start === 'earliest') return '0';
    if (start === 'latest') return '$';
    return startIdOf(await this.cursorOf(start));
  }

  compare(a: LogOffset, b: LogOffset): number {
    return compareIds(a, b);
  }

  async enforceRetention(nowMs: number): Promise<RetentionResult> {
    const before = await this.firstId();
    let deleted = 0;
    let over = false;
    if (this.options.retentionMs > 0) {
      deleted += Number(
        await this.client.xtrim(this.key, 'MINID', '~', `${Math.floor(nowMs - this.options.retentionMs)}-0`),
      );
    }
    if (this.options.maxDiskBytes > 0) {
      const used = Number((await this.client.memory('USAGE', this.key)) ?? 0);
      if (used > this.options.maxDiskBytes) {
        const len = await this.client.xlen(this.key);
        const keep = Math.floor((len * this.options.maxDiskBytes) / used);
        const n = Number(await this.client.xtrim(this.key, 'MAXLEN', '~', keep));
        deleted += n;
        over = n > 0;
      }
    }
    const result: RetentionResult = { segmentsDeleted: deleted, bytesDeleted: 0 };
    if (deleted === 0 || before === undefined) return result;
    // A group whose last delivered entry is before the new first entry lost entries it had not read.
    const first = (await this.firstId()) ?? '18446744073709551615-0';
    const groups = (await this.client.xinfo('GROUPS', this.key).catch(() => [])) as unknown[][];
    const behind = groups
      .map((g) => Object.fromEntries(pairs(g)))
      .filter((g) => compareIds(String(g['last-delivered-id']), first) < 0)
      .map((g) => String(g.name));
    if (behind.length > 0)
      result.unread = {
        segments: deleted,
        bytes: 0,
        groups: behind,
        reason: over ? 'maxDiskBytes' : 'retention',
      };
    return result;
  }

  private async firstId(): Promise<string | undefined> {
    const first = (await this.client.xrange(this.key, '-', '+', 'COUNT', 1)) as StreamEntry[];
    return first[0]?.[0];
  }

  /** Streams cannot rewrite an entry: forgotten entries are deleted (XDEL). Their dedupe keys expire as usual. */
  async forget(request: ForgetRequest): Promise<ForgetResult> {
    const scope = scopeOf(request);
    const scan = async (visit: (r: LogRecord) => Promise<void> | void): Promise<void> => {
      let cursor = '0-0';
      for (;;) {
        const { records, next } = await this.read(cursor, 1000);
        for (const r of records) await visit(r);
        if (records.length === 0) return;
        cursor = next;
      }
    };
    if ('customerId' in request) await scan((r) => collectOrders(r.event, scope));
    let redacted = 0;
    await scan(async (r) => {
      if (redact(r.event, scope)) redacted += Number(await this.client.xdel(this.key, r.offset));
    });
    const result = forgetResult(redacted, scope);
    for (const hook of this.hooks) await hook(request, result);
    return result;
  }

  onForget(hook: ForgetHook): void {
    this.hooks.push(hook);
  }

  async stats(): Promise<LogStats> {
    const bytes = Number((await this.client.memory('USAGE', this.key)) ?? 0);
    // Cursors are exclusive, so the cursor before the whole retained stream is always 0-0.
    return { bytes, segments: 1, first: '0-0', next: (await this.lastId()) ?? '0-0' };
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

function pairs(flat: unknown[]): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}
