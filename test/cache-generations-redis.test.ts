import { afterAll, describe, expect, it } from 'vitest';
import type { CacheKeys } from '../src/cache/index.js';
import { cacheReplica, type CacheReplica } from './support/cache-replica.js';
import { waitFor } from './support/processes.js';
import { startRedis } from './support/redis.js';

/**
 * Store generations over one real Redis: every process agrees on them, a process that starts later learns them,
 * and while a process cannot hear them (Redis down) the answers keyed on them live only a few seconds.
 */

const redis = await startRedis();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const responseKey = (keys: CacheKeys, storeId: string): string =>
  keys.response({
    storeId,
    destinationCell: keys.destinationCell({ lat: 48.864, lng: 2.352 }),
    atMs: Date.UTC(2026, 10, 26, 18, 5),
    basketBucket: '2-3/<30',
    modelVersion: 'v1',
  });

describe.skipIf(!redis)('store generations over Redis', () => {
  const replicas: CacheReplica[] = [];
  const start = async (): Promise<CacheReplica> => {
    const r = cacheReplica({ redisUrl: redis!.url, l2TimeoutMs: 200 });
    r.module.keys.followGenerations(r.module.bus, 5_000);
    replicas.push(r);
    await r.module.service.start!(new AbortController().signal);
    return r;
  };

  afterAll(async () => {
    for (const r of replicas) await r.module.service.stop!();
    await redis?.stop();
  });

  it('move one store’s answers to new keys in every process, and a later process agrees', async () => {
    const store = await start();
    const gateway = await start();
    const before = responseKey(gateway.module.keys, 's-1');
    const other = responseKey(gateway.module.keys, 's-2');
    expect(responseKey(store.module.keys, 's-1')).toBe(before);

    expect(await store.module.bus.advance(['s-1'])).toBe(true);
    await waitFor(
      () => responseKey(gateway.module.keys, 's-1') !== before,
      15_000,
      'the gateway to hear the generation',
    );
    const after = responseKey(gateway.module.keys, 's-1');
    expect(responseKey(store.module.keys, 's-1')).toBe(after);
    expect(responseKey(gateway.module.keys, 's-2')).toBe(other);

    const late = await start();
    expect(responseKey(late.module.keys, 's-1')).toBe(after);
    expect(responseKey(late.module.keys, 's-2')).toBe(other);
  });

  it('while Redis is down, answers are keyed for a few seconds only; once back, on the generations again', async () => {
    const store = await start();
    const gateway = await start();
    await store.module.bus.advance(['s-3']);
    await waitFor(() => gateway.module.bus.generation('s-3') === 1, 15_000, 'the generation');
    const synced = responseKey(gateway.module.keys, 's-3');

    await redis!.kill9();
    await waitFor(() => gateway.module.bus.generation('s-3') === undefined, 15_000, 'the bus to notice');
    expect(responseKey(gateway.module.keys, 's-3')).not.toBe(synced);
    // A change made meanwhile cannot be announced: the store module keeps trying (src/store/live-changes.ts).
    expect(await store.module.bus.advance(['s-3'])).toBe(false);

    await redis!.restart();
    // The restarted Redis is empty: every process starts the generations over, and every L1 was dropped with them.
    await waitFor(
      () => gateway.module.bus.generation('s-3') !== undefined,
      15_000,
      'the gateway to sync again',
    );
    while (!(await store.module.bus.advance(['s-3']))) await sleep(50);
    await waitFor(() => gateway.module.bus.generation('s-3') === 1, 15_000, 'the new generation');
    expect(gateway.logs.some((l) => /dropping L1/.test(l.msg))).toBe(true);
  }, 60_000);
});
