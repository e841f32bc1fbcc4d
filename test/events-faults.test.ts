import {
  promises as nodeFsp,
  existsSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  mkdtempSync,
  rmSync,
} from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Value } from 'typebox/value';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createEventsModule,
  eventsConfigSchema,
  FileEventLog,
  type EtaEvent,
  type FileLogOptions,
  type LogRecord,
} from '../src/events/index.js';
import type { DamageReport } from '../src/events/damage.js';
import type { FsLike } from '../src/events/fs-like.js';
import { Registry, type ModuleContext } from '../src/platform/index.js';

/**
 * The file log under disk faults: damaged bytes in the active or a sealed segment, a rotation whose directory fsync
 * or open fails, a failed fsync on append, damaged offsets files, retention against an unread group. Faults come
 * from a wrapper around node:fs/promises (the `fs` option), so the code under test is the production path.
 */

type Op = 'open' | 'rename' | 'sync' | 'datasync' | 'writev';

/** node:fs/promises, with a one-shot failure armed on one kind of call whose path matches. */
class FaultFs implements FsLike {
  private armed: Array<{ op: Op; match: (file: string) => boolean; left: number }> = [];
  readonly calls: Array<{ op: string; file: string }> = [];

  fail(op: Op, match: (file: string) => boolean = () => true, times = 1): void {
    this.armed.push({ op, match, left: times });
  }

  private trip(op: Op, file: string): void {
    this.calls.push({ op, file });
    const a = this.armed.find((x) => x.op === op && x.left > 0 && x.match(file));
    if (!a) return;
    a.left--;
    throw Object.assign(new Error(`injected ${op} failure on ${path.basename(file)}`), { code: 'EIO' });
  }

  async open(file: string, flags: string): Promise<FileHandle> {
    this.trip('open', file);
    const handle = await nodeFsp.open(file, flags);
    return new Proxy(handle, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (prop === 'sync' || prop === 'datasync' || prop === 'writev') {
          return (...args: unknown[]) => {
            this.trip(prop, file);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
  }
  async rename(from: string, to: string): Promise<void> {
    this.trip('rename', to);
    await nodeFsp.rename(from, to);
  }
  mkdir = (dir: string, o: { recursive: true }): Promise<unknown> => nodeFsp.mkdir(dir, o);
  readdir = (dir: string): Promise<string[]> => nodeFsp.readdir(dir);
  stat = (file: string): Promise<{ size: number; mtimeMs: number }> => nodeFsp.stat(file);
  rm = (file: string, o: { force: true }): Promise<void> => nodeFsp.rm(file, o);
  readFile = (file: string, e: 'utf8'): Promise<string> => nodeFsp.readFile(file, e);
  writeFile = (file: string, data: string): Promise<void> => nodeFsp.writeFile(file, data);
  truncate = (file: string, n: number): Promise<void> => nodeFsp.truncate(file, n);
  copyFile = (from: string, to: string): Promise<void> => nodeFsp.copyFile(from, to);
}

const dirs: string[] = [];
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const l of open.splice(0).reverse()) await l.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'etaserve-faults-'));
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
    dedupeWindowMs: 15 * 60_000,
    dedupeMaxIds: 100_000,
    ...extra,
  });
  await log.open();
  open.push(log);
  return log;
}

async function closeAll(): Promise<void> {
  for (const l of open.splice(0).reverse()) await l.close();
}

const ev = (i: number): EtaEvent => ({
  event_id: `e-${i}`,
  type: 'order.accepted',
  occurred_at: '2026-01-05T12:00:00Z',
  order_id: `o-${i}`,
  store_id: 's-1',
});
const ids = (from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, k) => `e-${from + k}`);

async function readAll(log: FileEventLog): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let from = (await log.stats()).first;
  for (;;) {
    const r = await log.read(from, 7);
    out.push(...r.records);
    if (r.records.length === 0) return out;
    from = r.next;
  }
}

const segmentsOf = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort()
    .map((f) => path.join(dir, f));

/** Flips one byte inside the JSON of the record holding `eventId`. */
function flipByteOf(file: string, eventId: string): void {
  const buf = readFileSync(file);
  const at = buf.indexOf(`"${eventId}"`);
  expect(at).toBeGreaterThan(0);
  buf[at + 2] = buf[at + 2]! ^ 0x01;
  writeFileSync(file, buf);
}

describe('file log damage', () => {
  it('damage in the middle of the active segment: reopened, every acknowledged record after it is read, and it is quarantined, counted and degrades readiness', async () => {
    const dir = newDir();
    let log = await openLog(dir, { segmentBytes: 1024 * 1024 });
    for (let i = 0; i < 20; i++) await log.append([ev(i)]);
    await closeAll();
    const [seg] = segmentsOf(dir);
    const size = readFileSync(seg!).length;
    flipByteOf(seg!, 'e-1');

    const reports: DamageReport[] = [];
    log = await openLog(dir, { segmentBytes: 1024 * 1024, onDamage: (r) => reports.push(r) });
    expect(readFileSync(seg!).length).toBe(size); // not cut
    expect((await readAll(log)).map((r) => r.event.event_id)).toEqual(
      ids(0, 20).filter((id) => id !== 'e-1'),
    );
    expect(reports).toMatchObject([
      { kind: 'active', file: path.basename(seg!), reason: 'checksum mismatch' },
    ]);
    const copy = path.join(dir, reports[0]!.quarantined!);
    expect(readFileSync(copy).equals(readFileSync(seg!))).toBe(true);
    expect(log.health().problems.join()).toMatch(/damage/);
    // Appends go on after the kept records, and a restart still reads all of them.
    await log.append([ev(20)]);
    await closeAll();
    log = await openLog(dir, { segmentBytes: 1024 * 1024 });
    expect((await readAll(log)).map((r) => r.event.event_id)).toEqual(
      ids(0, 21).filter((id) => id !== 'e-1'),
    );
  });

  it('the events module reports damage as a metric, a log line and degraded readiness', async () => {
    const dataDir = newDir();
    const dir = path.join(dataDir, 'events');
    await openLog(dir, { segmentBytes: 1024 * 1024 }).then(async (l) => {
      for (let i = 0; i < 5; i++) await l.append([ev(i)]);
    });
    await closeAll();
    flipByteOf(segmentsOf(dir)[0]!, 'e-2');
    const lines: string[] = [];
    const registry = new Registry();
    const ctx = {
      logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }),
      metrics: { registry },
      platform: { dataDir },
    } as unknown as ModuleContext;
    const config = { ...(Value.Default(eventsConfigSchema, {}) as object), backend: 'file' } as never;
    const mod = createEventsModule(ctx, config, { role: 'writer' });
    await mod.service.start!(new AbortController().signal);
    open.push({ close: () => mod.service.stop!() });
    const check = mod.service.check!();
    expect(check).toMatchObject({ ready: true, degraded: true });
    expect(check.reason).toMatch(/damage in 0+\.seg/);
    expect(await registry.getSingleMetricAsString('etaserve_events_log_damage_total')).toMatch(
      /etaserve_events_log_damage_total\{kind="active"\} 1/,
    );
    expect(lines.some((l) => l.includes('damaged data found') && l.includes('"level":50'))).toBe(true);
  });

  it('damage in a sealed segment: readers and consumers read every intact record after it, and it is reported', async () => {
    const dir = newDir();
    let log = await openLog(dir, { segmentBytes: 4096 });
    for (let i = 0; i < 200; i++) await log.append([ev(i)]);
    await closeAll();
    const segs = segmentsOf(dir);
    expect(segs.length).toBeGreaterThan(3);
    const inFirst = readFileSync(segs[0]!).toString('latin1');
    const victim = /"(e-\d+)"/g.exec(inFirst.slice(inFirst.length / 2))![1]!;
    flipByteOf(segs[0]!, victim);
    const expected = ids(0, 200).filter((id) => id !== victim);

    // A reader process (no open-time scan): it steps over the damage and reports it.
    const reports: DamageReport[] = [];
    const reader = new FileEventLog({
      dir,
      mode: 'reader',
      segmentBytes: 4096,
      retentionMs: 0,
      maxDiskBytes: 0,
      dedupeWindowMs: 60_000,
      dedupeMaxIds: 1000,
      onDamage: (r) => reports.push(r),
    });
    await reader.open();
    open.push(reader);
    expect((await readAll(reader)).map((r) => r.event.event_id)).toEqual(expected);
    expect(reports).toMatchObject([{ kind: 'sealed', file: path.basename(segs[0]!) }]);
    expect(reader.health().problems).toHaveLength(1);

    // A consumer group of the writer, reading from disk, gets them all too.
    log = await openLog(dir, { segmentBytes: 4096 });
    const seen: string[] = [];
    const sub = log.subscribe('g', (records) => void seen.push(...records.map((r) => r.event.event_id)), {
      maxBatch: 10,
      pollMs: 10,
    });
    await sub.caughtUp();
    await sub.close();
    expect(seen).toEqual(expected);
  });

  it('reads segments written in format 1 (before record markers), and reports damage in them instead of skipping silently', async () => {
    const dir = newDir();
    const { encodeRecord } = await import('../src/events/record-codec.js');
    const v1 = Buffer.concat(
      [0, 1, 2].map((i) => encodeRecord(Buffer.from(JSON.stringify(ev(i))), 1000 + i, 1)),
    );
    writeFileSync(path.join(dir, `${'0'.padStart(20, '0')}.seg`), v1);
    const reports: DamageReport[] = [];
    let log = await openLog(dir, { onDamage: (r) => reports.push(r) });
    await log.append([ev(3)]);
    expect((await readAll(log)).map((r) => r.event.event_id)).toEqual(ids(0, 4));
    expect(segmentsOf(dir)).toHaveLength(2); // the format-1 segment was sealed, new records go to a new one
    await closeAll();
    flipByteOf(segmentsOf(dir)[0]!, 'e-1');
    log = await openLog(dir, { onDamage: (r) => reports.push(r) });
    expect((await readAll(log)).map((r) => r.event.event_id)).toEqual(['e-0', 'e-3']);
    expect(reports).toMatchObject([{ kind: 'format1' }]);
  });
});

describe('file log faults on append and rotation', () => {
  it('a failed directory fsync during rotation fails that append only; later appends succeed and nothing acknowledged is lost', async () => {
    const dir = newDir();
    const fs = new FaultFs();
    const log = await openLog(dir, { fs, segmentBytes: 4096 });
    const acked: string[] = [];
    // Armed from the start: only the rotation fsyncs the directory, so the appends before it succeed.
    fs.fail('sync', (f) => f === dir);
    let i = 0;
    let failure: unknown;
    for (; i < 200 && failure === undefined; i++) {
      await log.append([ev(i)]).then(
        () => acked.push(`e-${i}`),
        (e: unknown) => (failure = e),
      );
    }
    i--;
    expect(String(failure)).toMatch(/injected sync failure/);
    expect(segmentsOf(dir)).toHaveLength(2); // the new segment exists, its name not yet durable
    expect(log.health()).toMatchObject({ appendable: false });
    expect(log.health().problems[0]).toMatch(/cannot append/);
    // The fault clears: the same event goes in (it was not acknowledged, so it is not a duplicate), then more.
    for (let k = i; k < i + 50; k++) {
      expect((await log.append([ev(k)])).offsets[0]).not.toBeNull();
      acked.push(`e-${k}`);
    }
    expect(log.health()).toEqual({ appendable: true, problems: [] });
    expect((await readAll(log)).map((r) => r.event.event_id)).toEqual(acked);
    await closeAll();
    const again = await openLog(dir, { segmentBytes: 4096 });
    expect((await readAll(again)).map((r) => r.event.event_id)).toEqual(acked);
  });

  it('a failed open of the new segment during rotation fails that append only, and the retry uses the file', async () => {
    const dir = newDir();
    const fs = new FaultFs();
    const log = await openLog(dir, { fs, segmentBytes: 4096 });
    const acked: string[] = [];
    for (let i = 0; i < 30; i++) {
      await log.append([ev(i)]);
      acked.push(`e-${i}`);
    }
    const before = segmentsOf(dir).length;
    // Fail the open of every new segment file once, then let rotation go on.
    fs.fail('open', (f) => f.endsWith('.seg') && !segmentsOf(dir).includes(f), 1);
    const results = await Promise.allSettled(Array.from({ length: 60 }, (_, k) => log.append([ev(30 + k)])));
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    results.forEach((r, k) => r.status === 'fulfilled' && acked.push(`e-${30 + k}`));
    await log.append([ev(100)]);
    acked.push('e-100');
    expect(segmentsOf(dir).length).toBeGreaterThan(before);
    const read = (await readAll(log)).map((r) => r.event.event_id);
    expect([...read].sort()).toEqual([...acked].sort());
  });

  it('a failed fsync on append: not acknowledged, cut, and the log recovers', async () => {
    const dir = newDir();
    const fs = new FaultFs();
    const log = await openLog(dir, { fs });
    await log.append([ev(1)]);
    fs.fail('datasync');
    await expect(log.append([ev(2), ev(3)])).rejects.toThrow(/injected datasync/);
    expect(log.health().appendable).toBe(false);
    expect((await log.append([ev(4)])).offsets[0]).not.toBeNull();
    expect((await readAll(log)).map((r) => r.event.event_id)).toEqual(['e-1', 'e-4']);
    // The failed events were never acknowledged: sent again, they are not duplicates.
    expect((await log.append([ev(2), ev(3)])).offsets.every((o) => o !== null)).toBe(true);
    await closeAll();
    const again = await openLog(dir);
    expect((await readAll(again)).map((r) => r.event.event_id)).toEqual(['e-1', 'e-4', 'e-2', 'e-3']);
  });
});

describe('offsets files', () => {
  it('are written atomically: temp file fsync, rename, directory fsync; a failed rename keeps the old offset', async () => {
    const dir = newDir();
    const fs = new FaultFs();
    const log = await openLog(dir, { fs });
    await log.append([ev(1), ev(2)]);
    await log.commit('g', '0');
    const consumers = path.join(dir, 'consumers');
    const ops = fs.calls
      .filter((c) => c.file.startsWith(consumers))
      .map((c) => `${c.op}:${path.basename(c.file)}`);
    expect(ops).toEqual([
      `open:g.json.${process.pid}.tmp`,
      `sync:g.json.${process.pid}.tmp`,
      'rename:g.json',
      'open:consumers',
      'sync:consumers',
    ]);
    fs.fail('rename');
    await expect(log.commit('g', '999')).rejects.toThrow(/injected rename/);
    expect(await log.committed('g')).toBe('0');
  });

  it('an empty or damaged offsets file is reported and the group starts again at the earliest record, not forever failing', async () => {
    const dir = newDir();
    const reports: DamageReport[] = [];
    const log = await openLog(dir, { onDamage: (r) => reports.push(r) });
    await log.append([ev(1), ev(2), ev(3)]);
    await log.commit('g', (await log.stats()).next);
    writeFileSync(path.join(dir, 'consumers', 'g.json'), '');
    expect(await log.committed('g')).toBe((await log.stats()).first);
    writeFileSync(path.join(dir, 'consumers', 'h.json'), '{"offset":');
    const seen: string[] = [];
    const sub = log.subscribe('h', (records) => void seen.push(...records.map((r) => r.event.event_id)), {
      start: 'latest',
      pollMs: 10,
    });
    await sub.caughtUp();
    await sub.close();
    expect(seen).toEqual(['e-1', 'e-2', 'e-3']);
    expect(reports.map((r) => [r.kind, r.file])).toEqual([
      ['offsets', 'g.json'],
      ['offsets', 'h.json'],
    ]);
    // The subscription committed a good offset again.
    expect(JSON.parse(readFileSync(path.join(dir, 'consumers', 'h.json'), 'utf8'))).toMatchObject({
      offset: (await log.stats()).next,
    });
  });
});

describe('retention against consumer groups', () => {
  it('size retention that deletes data a group has not read says so (result, metric and log line in the module)', async () => {
    const dir = newDir();
    const log = await openLog(dir, { segmentBytes: 4096, maxDiskBytes: 8192 });
    for (let i = 0; i < 200; i++) await log.append([ev(i)]);
    const segs = segmentsOf(dir).length;
    await log.commit('fast', (await log.stats()).next);
    await log.commit('slow', '0');
    const r = await log.enforceRetention(Date.now());
    expect(r.segmentsDeleted).toBe(segs - 2);
    expect(r.unread).toMatchObject({ reason: 'maxDiskBytes', groups: ['slow'], segments: segs - 2 });
    // A group that read everything loses nothing: no report.
    await log.commit('slow', (await log.stats()).next);
    for (let i = 200; i < 300; i++) await log.append([ev(i)]);
    await log.commit('slow', (await log.stats()).next);
    await log.commit('fast', (await log.stats()).next);
    const later = await log.enforceRetention(Date.now());
    expect(later.segmentsDeleted).toBeGreaterThan(0);
    expect(later.unread).toBeUndefined();
  });

  it('the module counts and logs unread data retention deleted', async () => {
    const dataDir = newDir();
    const dir = path.join(dataDir, 'events');
    const seed = await openLog(dir, { segmentBytes: 4096 });
    for (let i = 0; i < 100; i++) await seed.append([ev(i)]);
    await seed.commit('slow', '0');
    await closeAll();
    const lines: string[] = [];
    const registry = new Registry();
    const ctx = {
      logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }),
      metrics: { registry },
      platform: { dataDir },
    } as unknown as ModuleContext;
    const config = {
      ...(Value.Default(eventsConfigSchema, {}) as object),
      backend: 'file',
      segmentBytes: 4096,
      maxDiskBytes: 8192,
    } as never;
    const mod = createEventsModule(ctx, config, { role: 'writer' });
    await mod.service.start!(new AbortController().signal); // runs retention once at start
    open.push({ close: () => mod.service.stop!() });
    expect(await registry.getSingleMetricAsString('etaserve_events_retention_unread_dropped_total')).toMatch(
      /\{reason="maxDiskBytes"\} [1-9]/,
    );
    expect(lines.some((l) => l.includes('had not read: slow'))).toBe(true);
    expect(existsSync(path.join(dir, 'consumers', 'slow.json'))).toBe(true);
  });
});
