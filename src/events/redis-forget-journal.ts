import type { ChainableCommander, Redis } from 'ioredis';
import { checkGroup } from './offsets-store.js';
import { groupPositions, setGroup, trimPoint } from './redis-groups.js';
import type { ForgetEntry, ForgetJournal, ForgetResult } from './types.js';

type Entry = [id: string, fields: string[]];

function bodyOf({ orderIds, riderIds, customerIds }: ForgetResult, atMs: number): string {
  return JSON.stringify({ atMs, orderIds, riderIds, customerIds });
}

function entryOf([id, fields]: Entry): ForgetEntry {
  const i = fields.indexOf('f');
  const body = JSON.parse(i >= 0 ? fields[i + 1]! : '{}') as Partial<ForgetEntry>;
  return {
    id,
    atMs: body.atMs ?? Number(id.split('-')[0]),
    orderIds: body.orderIds ?? [],
    riderIds: body.riderIds ?? [],
    customerIds: body.customerIds ?? [],
  };
}

/**
 * The forget journal of the Redis log: a second stream `{stream}:forgotten`, in the log's hash slot, one entry per
 * forget. A follower's position is a stream id; the lake writer's is the consumer group `lake` on it (XGROUP
 * SETID), so trimming waits for the lake and every process can see how far it got.
 */
export class RedisForgetJournal implements ForgetJournal {
  readonly key: string;

  constructor(
    private readonly client: Redis,
    logKey: string,
  ) {
    this.key = `${logKey}:forgotten`;
  }

  async append(result: ForgetResult, atMs: number): Promise<string> {
    return (await this.client.xadd(this.key, '*', 'f', bodyOf(result, atMs))) as string;
  }

  /** The append as part of a transaction (the log's XDELs and this entry together). */
  appendIn(tx: ChainableCommander, result: ForgetResult, atMs: number): void {
    tx.xadd(this.key, '*', 'f', bodyOf(result, atMs));
  }

  async read(after: string | 'earliest', max: number): Promise<{ entries: ForgetEntry[]; next: string }> {
    const cursor = after === 'earliest' ? '0-0' : after;
    if (max <= 0) return { entries: [], next: cursor };
    const raw = (await this.client.xrange(this.key, `(${cursor}`, '+', 'COUNT', max)) as Entry[];
    const entries = raw.map(entryOf);
    return { entries, next: entries.at(-1)?.id ?? cursor };
  }

  async latest(): Promise<string> {
    const last = (await this.client.xrevrange(this.key, '+', '-', 'COUNT', 1)) as Entry[];
    return last[0]?.[0] ?? '0-0';
  }

  async committed(group: string): Promise<string | undefined> {
    checkGroup(group);
    return (await groupPositions(this.client, this.key)).get(group);
  }

  async commit(group: string, next: string): Promise<void> {
    checkGroup(group);
    await setGroup(this.client, this.key, group, next);
  }

  /** Exact trimming (no `~`): the journal is small, and an entry's ids should not outlive their time. */
  async trim(beforeMs: number, waitFor: readonly string[]): Promise<{ deleted: number; heldFor: string[] }> {
    const point = await trimPoint(this.client, this.key, `${Math.max(0, Math.floor(beforeMs))}-0`, waitFor);
    const deleted = Number(await this.client.xtrim(this.key, 'MINID', point.minId));
    return { deleted, heldFor: point.heldFor };
  }
}
