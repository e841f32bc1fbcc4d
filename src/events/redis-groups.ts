import type { Redis } from 'ioredis';
import type { LogOffset } from './types.js';

/** Stream ids `ms-seq` in stream order. */
export function compareIds(a: LogOffset, b: LogOffset): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

/** The smallest id after `id`: `XTRIM MINID` keeps ids from it on, so everything up to `id` goes. */
export function idAfter(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  return `${ms}-${BigInt(seq) + 1n}`;
}

export function pairs(flat: unknown[]): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}

/** Each consumer group of a stream and the last id delivered to it (empty when the stream does not exist). */
export async function groupPositions(client: Redis, key: string): Promise<Map<string, string>> {
  const groups = (await client.xinfo('GROUPS', key).catch(() => [])) as unknown[][];
  const out = new Map<string, string>();
  for (const g of groups) {
    const info = Object.fromEntries(pairs(g));
    out.set(String(info.name), String(info['last-delivered-id']));
  }
  return out;
}

/** XGROUP SETID, or CREATE when the group does not exist yet. */
export async function setGroup(client: Redis, key: string, group: string, id: string): Promise<void> {
  try {
    await client.xgroup('SETID', key, group, id);
  } catch {
    await client.xgroup('CREATE', key, group, id, 'MKSTREAM');
  }
}

/**
 * Where `XTRIM MINID` may cut a stream for the time bound `minId` without passing any group of `waitFor` (groups
 * that do not exist wait for nothing), and which of them held entries back: those with entries after their
 * position and before `minId`.
 */
export async function trimPoint(
  client: Redis,
  key: string,
  minId: string,
  waitFor: readonly string[],
): Promise<{ minId: string; heldFor: string[] }> {
  if (waitFor.length === 0) return { minId, heldFor: [] };
  const positions = await groupPositions(client, key);
  let cut = minId;
  const heldFor: string[] = [];
  for (const group of waitFor) {
    const last = positions.get(group);
    if (last === undefined) continue;
    const after = idAfter(last);
    if (compareIds(after, minId) >= 0) continue;
    const between = (await client.xrange(key, after, `(${minId}`, 'COUNT', 1)) as unknown[];
    if (between.length > 0) heldFor.push(group);
    if (compareIds(after, cut) < 0) cut = after;
  }
  return { minId: cut, heldFor };
}
