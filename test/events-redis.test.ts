import { afterAll, describe, expect, it } from 'vitest';
import {
  EventIngest,
  EventValidator,
  RedisEventLog,
  type EtaEvent,
  type LogRecord,
} from '../src/events/index.js';
import { Registry } from '../src/platform/index.js';
import { startRedis } from './support/redis.js';

/** The Redis Streams backend against a real Redis: dedupe, reads, consumer groups with redelivery, forgetting. */
const redis = await startRedis();

const ev = (i: number, extra: Record<string, unknown> = {}): EtaEvent => ({
  event_id: `e-${i}`,
  type: 'order.accepted',
  occurred_at: '2026-01-05T12:00:00Z',
  order_id: `o-${i}`,
  store_id: 's-1',
  ...extra,
});

describe.skipIf(!redis)('Redis Streams event log', () => {
  const logs: RedisEventLog[] = [];
  afterAll(async () => {
    for (const l of logs) await l.close();
    await redis?.stop();
  });

  async function open(stream: string): Promise<RedisEventLog> {
    const log = new RedisEventLog({
      url: redis!.url,
      stream,
      dedupeWindowMs: 3_600_000,
      dedupeMaxIds: 100_000,
      retentionMs: 0,
      maxDiskBytes: 0,
    });
    await log.open();
    logs.push(log);
    return log;
  }

  it('appends once per event_id, across batches and across two writers', async () => {
    const a = await open('t1');
    const b = await open('t1');
    const first = await a.append([ev(1), ev(2), ev(2)]);
    expect(first.offsets.map((o) => o !== null)).toEqual([true, true, false]);
    const [x, y] = await Promise.all([a.append([ev(3), ev(4)]), b.append([ev(3), ev(4)])]);
    expect([...x.offsets, ...y.offsets].filter((o) => o !== null)).toHaveLength(2);
    const { records } = await a.read('earliest', 100);
    expect(records.map((r) => r.event.event_id).sort()).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
  });

  it('answers ingest batches through the same EventIngest as the file log', async () => {
    const log = await open('t2');
    const ingest = new EventIngest(
      log,
      new EventValidator({ maxEventBytes: 4096, maxAppPayloadBytes: 512 }),
      { maxBatchEvents: 10 },
      new Registry(),
    );
    const batch = [{ value: ev(1) }, { value: { ...ev(2), store_id: 7 } }];
    expect(await ingest.ingest(batch)).toMatchObject({
      accepted: 1,
      duplicates: 0,
      rejected: [{ index: 1, code: 'invalid_type' }],
    });
    expect(await ingest.ingest(batch)).toMatchObject({ accepted: 0, duplicates: 1 });
  });

  it('delivers to a consumer group at least once: a failed batch comes again, a new consumer resumes after acks', async () => {
    const log = await open('t3');
    await log.append([ev(1), ev(2), ev(3)]);
    const seen: string[] = [];
    let fail = true;
    const sub = log.subscribe(
      'proj',
      (records: readonly LogRecord[]) => {
        if (fail) {
          fail = false;
          throw new Error('first delivery fails');
        }
        seen.push(...records.map((r) => r.event.event_id));
      },
      { pollMs: 20, onError: () => undefined },
    );
    await waitUntil(() => seen.length >= 3);
    await sub.close();
    expect(seen).toEqual(['e-1', 'e-2', 'e-3']);
    await log.append([ev(4)]);
    const later: string[] = [];
    const again = log.subscribe(
      'proj',
      (records) => void later.push(...records.map((r) => r.event.event_id)),
      { pollMs: 20 },
    );
    await again.caughtUp();
    await again.close();
    expect(later).toEqual(['e-4']);
    expect(await log.committed('proj')).toBe((await log.stats()).next);
  });

  it('gives every replica of a projection every entry: two processes with the same projection name each see all', async () => {
    // Two store replicas rebuild their live state from the same stream under the same name; a consumer group
    // would split the entries between them and let the second rewind the first.
    const a = await open('t-proj');
    const b = await open('t-proj');
    await a.append([ev(1), ev(2), ev(3)]);
    const seenA: string[] = [];
    const seenB: string[] = [];
    const options = { pollMs: 20, ignoreCommitted: true, start: 'earliest' as const };
    const subA = a.subscribe(
      'store-live',
      (rs) => void seenA.push(...rs.map((r) => r.event.event_id)),
      options,
    );
    const subB = b.subscribe(
      'store-live',
      (rs) => void seenB.push(...rs.map((r) => r.event.event_id)),
      options,
    );
    await a.append([ev(4), ev(5)]);
    await waitUntil(() => seenA.length >= 5 && seenB.length >= 5);
    await subA.close();
    await subB.close();
    expect(seenA).toEqual(['e-1', 'e-2', 'e-3', 'e-4', 'e-5']);
    expect(seenB).toEqual(['e-1', 'e-2', 'e-3', 'e-4', 'e-5']);
  });

  it('forgets a rider: their location entries are deleted', async () => {
    const log = await open('t4');
    const ping = (i: number, rider: string): EtaEvent => ({
      event_id: `p-${i}`,
      type: 'rider.location',
      occurred_at: '2026-01-05T12:00:00Z',
      rider_id: rider,
      lat: 48.8,
      lng: 2.3,
    });
    await log.append([ping(1, 'r1'), ping(2, 'r2'), ping(3, 'r1')]);
    const result = await log.forget({ riderId: 'r1' });
    expect(result.redacted).toBe(2);
    const { records } = await log.read('earliest', 100);
    expect(records.map((r) => r.event.event_id)).toEqual(['p-2']);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
