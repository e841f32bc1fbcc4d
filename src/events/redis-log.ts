import os from 'node:os';
import { Redis } from 'ioredis';
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
  /** The stream is `{stream}` and dedupe keys `{stream}:d:<event_id>`: one hash slot, so it works on a cluster node too. */
  stream: string;
  dedupeWindowMs: number;
  retentionMs: number;
  maxDiskBytes: number;
}

/**
 * Dedupe and append in one script, so two gateways replaying the same event race on SET NX and only one XADDs it.
 * The key expires with the dedupe window.
 */
const APPEND = `
local out = {}
local n = (#ARGV - 2) / 2
for i = 1, n do
  local id = ARGV[1 + 2 * i]
  if redis.call('SET', KEYS[1] .. ':d:' .. id, '1', 'NX', 'PX', ARGV[1]) then
    out[i] = redis.call('XADD', KEYS[1], '*', 't', ARGV[2], 'e', ARGV[2 + 2 * i])
  else
    out[i] = false
  end
end
return out`;

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

  constructor(private readonly options: RedisLogOptions) {
    this.key = `{${options.stream}}`;
    this.client = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.client.defineCommand('etaAppend', { numberOfKeys: 1, lua: APPEND });
  }

  async open(): Promise<void> {
    await this.client.connect();
  }

  async append(events: readonly EtaEvent[]): Promise<AppendResult> {
    const args: string[] = [String(Math.max(1, Math.round(this.options.dedupeWindowMs))), String(Date.now())];
    for (const e of events) args.push(e.event_id, JSON.stringify(e));
    const run = (
      this.client as unknown as { etaAppend(key: string, ...args: string[]): Promise<Array<string | null>> }
    ).etaAppend;
    const ids = await run.call(this.client, this.key, ...args);
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
    let deleted = 0;
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
        deleted += Number(await this.client.xtrim(this.key, 'MAXLEN', '~', keep));
      }
    }
    return { segmentsDeleted: deleted, bytesDeleted: 0 };
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
