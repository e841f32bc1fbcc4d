import os from 'node:os';
import { Redis } from 'ioredis';
import { bucketMsOf, hashId, type ShortenedWindow } from './dedupe.js';
import { collectOrders, forgetResult, redact, scopeOf } from './redact.js';
import { checkGroup } from './offsets-store.js';
import { RedisForgetJournal } from './redis-forget-journal.js';
import { compareIds, groupPositions, pairs, setGroup, trimPoint } from './redis-groups.js';
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
  /**
   * Consumer groups the time bound waits for (events.trimWaitsForGroups): entries past the retention period stay
   * until each of these groups (when it exists) has them. The memory bound (maxDiskBytes) does not wait.
   */
  trimWaitsForGroups?: readonly string[];
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

export { compareIds };

/** Take the lease when free, expired or already ours; never from another live holder. */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

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
  /** `{stream}:forgotten`: whom each forget covered, for the lake and the projections of every process. */
  readonly forgets: RedisForgetJournal;

  constructor(private readonly options: RedisLogOptions) {
    this.key = `{${options.stream}}`;
    this.now = options.now ?? Date.now;
    this.bucketMs = bucketMsOf(Math.max(1, options.dedupeWindowMs));
    this.client = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.forgets = new RedisForgetJournal(this.client, this.key);
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
    return (await groupPositions(this.client, this.key)).get(group);
  }

  async commit(group: string, next: LogOffset): Promise<void> {
    checkGroup(group);
    await setGroup(this.client, this.key, group, next);
  }

  /** Entries past a group's position, when Redis knows (XINFO GROUPS `lag`: null after SETID and XDELs). */
  async groupLag(group: string): Promise<number | undefined> {
    const groups = (await this.client.xinfo('GROUPS', this.key).catch(() => [])) as unknown[][];
    for (const g of groups) {
      const info = Object.fromEntries(pairs(g));
      if (info.name === group) return typeof info.lag === 'number' ? info.lag : undefined;
    }
    return undefined;
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

  /**
   * The time bound trims up to the retention period, but never past a group of trimWaitsForGroups (the lake writer
   * must have an entry before it goes); the memory bound trims what it must, and a group it passes is reported in
   * `unread` (logged and counted by the module). The forget journal is trimmed by the same time bound and groups.
   */
  async enforceRetention(nowMs: number): Promise<RetentionResult> {
    const waitFor = this.options.trimWaitsForGroups ?? [];
    // Each group's first unread entry: lost if trimming passes it.
    const unreadFrom = new Map<string, string>();
    for (const [group, last] of await groupPositions(this.client, this.key)) {
      const next = (await this.client.xrange(this.key, `(${last}`, '+', 'COUNT', 1)) as StreamEntry[];
      if (next[0]) unreadFrom.set(group, next[0][0]);
    }
    let deleted = 0;
    let over = false;
    const heldFor = new Set<string>();
    if (this.options.retentionMs > 0) {
      const cutoff = `${Math.max(0, Math.floor(nowMs - this.options.retentionMs))}-0`;
      const point = await trimPoint(this.client, this.key, cutoff, waitFor);
      point.heldFor.forEach((g) => heldFor.add(g));
      deleted += Number(await this.client.xtrim(this.key, 'MINID', '~', point.minId));
      const journal = await this.forgets.trim(nowMs - this.options.retentionMs, waitFor);
      journal.heldFor.forEach((g) => heldFor.add(g));
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
    if (heldFor.size > 0) result.heldFor = [...heldFor];
    if (deleted === 0) return result;
    const first = (await this.firstId()) ?? '18446744073709551615-0';
    const behind = [...unreadFrom].filter(([, id]) => compareIds(id, first) < 0).map(([group]) => group);
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
    const doomed: string[] = [];
    await scan((r) => {
      if (redact(r.event, scope)) doomed.push(r.offset);
    });
    // The deletes and the journal entry in one transaction, in that order: a lake writer that compacted an entry
    // just before its XDEL reads the entry afterwards, and a forget cut short never deletes a customer's orders
    // from the log (where they are found) without telling the lake which they were.
    const tx = this.client.multi();
    for (let i = 0; i < doomed.length; i += 1000) tx.xdel(this.key, ...doomed.slice(i, i + 1000));
    this.forgets.appendIn(tx, forgetResult(0, scope), this.now());
    const replies = (await tx.exec()) ?? [];
    const failed = replies.find(([error]) => error);
    if (failed) throw failed[0] as Error;
    const deletes = replies.slice(0, -1).reduce((n, [, deleted]) => n + Number(deleted), 0);
    const result = forgetResult(deletes, scope);
    for (const hook of this.hooks) await hook(request, result);
    return result;
  }

  onForget(hook: ForgetHook): void {
    this.hooks.push(hook);
  }

  async claimLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkGroup(name);
    const granted = await this.client.eval(CLAIM, 1, `${this.key}:lease:${name}`, holder, String(ttlMs));
    return Number(granted) === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    checkGroup(name);
    await this.client.eval(RELEASE, 1, `${this.key}:lease:${name}`, holder);
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
