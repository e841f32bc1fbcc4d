import path from 'node:path';
import { nodeFs, syncDir, type FsLike } from './fs-like.js';
import { checkGroup, OffsetsStore } from './offsets-store.js';
import { alive } from './segment-io.js';
import type { ForgetEntry, ForgetJournal, ForgetResult } from './types.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** The journal of the memory log: entries numbered from 1, positions are those numbers. */
export class MemoryForgetJournal implements ForgetJournal {
  private entries: ForgetEntry[] = [];
  private seq = 0;
  private readonly groups = new Map<string, string>();

  async append(result: ForgetResult, atMs: number): Promise<string> {
    const id = String(++this.seq);
    const { orderIds, riderIds, customerIds } = result;
    this.entries.push({
      id,
      atMs,
      orderIds: [...orderIds],
      riderIds: [...riderIds],
      customerIds: [...customerIds],
    });
    return id;
  }

  async read(after: string | 'earliest', max: number): Promise<{ entries: ForgetEntry[]; next: string }> {
    const from = after === 'earliest' ? 0 : Number(after);
    const entries = this.entries.filter((e) => Number(e.id) > from).slice(0, Math.max(0, max));
    return { entries, next: entries.at(-1)?.id ?? String(from) };
  }

  async latest(): Promise<string> {
    return String(this.seq);
  }

  async committed(group: string): Promise<string | undefined> {
    return this.groups.get(group);
  }

  async commit(group: string, next: string): Promise<void> {
    this.groups.set(group, next);
  }

  async trim(beforeMs: number, waitFor: readonly string[]): Promise<{ deleted: number; heldFor: string[] }> {
    const { drop, heldFor } = prefixToDrop(this.entries, beforeMs, waitFor, this.groups);
    this.entries = this.entries.slice(drop);
    return { deleted: drop, heldFor };
  }
}

/** How many of the oldest entries may go: older than `beforeMs` and read by every existing group of `waitFor`. */
function prefixToDrop(
  entries: readonly ForgetEntry[],
  beforeMs: number,
  waitFor: readonly string[],
  positions: ReadonlyMap<string, string | undefined>,
): { drop: number; heldFor: string[] } {
  const heldFor: string[] = [];
  let drop = 0;
  for (const e of entries) {
    if (e.atMs >= beforeMs) break;
    const waiting = waitFor.filter((g) => positions.has(g) && Number(positions.get(g) ?? 0) < Number(e.id));
    if (waiting.length > 0) {
      heldFor.push(...waiting);
      break;
    }
    drop++;
  }
  return { drop, heldFor };
}

interface JournalLine {
  seq: number;
  atMs?: number;
  orderIds?: string[];
  riderIds?: string[];
  customerIds?: string[];
}

/**
 * The journal of the file log: `<events dir>/forgotten/journal.jsonl`, one JSON line per forget, numbered (`seq`).
 * Any process may forget (the CLI, a gateway), so appends and trims take `journal.lock` (one node: the file log's
 * shape). A trim rewrites the file (temp, fsync, rename) and leaves a line with only the last dropped `seq`, so
 * numbering goes on where it was. A line that does not parse (a torn append) is skipped.
 */
export class FileForgetJournal implements ForgetJournal {
  private readonly file: string;
  private readonly lockFile: string;
  private readonly offsets: OffsetsStore;

  constructor(
    private readonly dir: string,
    private readonly fs: FsLike = nodeFs,
  ) {
    this.file = path.join(dir, 'journal.jsonl');
    this.lockFile = path.join(dir, 'journal.lock');
    this.offsets = new OffsetsStore(path.join(dir, 'consumers'), fs);
  }

  private async lines(): Promise<{ lines: JournalLine[]; text: string }> {
    let text: string;
    try {
      text = await this.fs.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], text: '' };
      throw e;
    }
    const lines: JournalLine[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const parsed = JSON.parse(line) as JournalLine;
        if (Number.isSafeInteger(parsed.seq)) lines.push(parsed);
      } catch {
        // a torn append: never acknowledged
      }
    }
    return { lines, text };
  }

  private static entryOf(line: JournalLine): ForgetEntry | undefined {
    if (line.atMs === undefined) return undefined; // the numbering mark a trim leaves
    return {
      id: String(line.seq),
      atMs: line.atMs,
      orderIds: line.orderIds ?? [],
      riderIds: line.riderIds ?? [],
      customerIds: line.customerIds ?? [],
    };
  }

  private async entries(): Promise<{ entries: ForgetEntry[]; lastSeq: number; text: string }> {
    const { lines, text } = await this.lines();
    const entries = lines.map(FileForgetJournal.entryOf).filter((e): e is ForgetEntry => e !== undefined);
    return { entries, lastSeq: lines.reduce((m, l) => Math.max(m, l.seq), 0), text };
  }

  /** One process at a time appends or trims; a lock left by a dead process is taken over. */
  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    await this.fs.mkdir(this.dir, { recursive: true });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const handle = await this.fs.open(this.lockFile, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const pid = Number(await this.fs.readFile(this.lockFile, 'utf8').catch(() => '0'));
        if (pid > 0 && !alive(pid)) await this.fs.rm(this.lockFile, { force: true });
        else if (Date.now() > deadline) throw new Error(`the forget journal is locked by process ${pid}`);
        else await sleep(20);
      }
    }
    try {
      return await fn();
    } finally {
      await this.fs.rm(this.lockFile, { force: true });
    }
  }

  async append(result: ForgetResult, atMs: number): Promise<string> {
    return this.locked(async () => {
      const { lastSeq, text } = await this.entries();
      const seq = lastSeq + 1;
      const { orderIds, riderIds, customerIds } = result;
      const line = JSON.stringify({ seq, atMs, orderIds, riderIds, customerIds });
      const created = text === '';
      const handle = await this.fs.open(this.file, 'a');
      try {
        await handle.writeFile(`${text !== '' && !text.endsWith('\n') ? '\n' : ''}${line}\n`);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      if (created) await syncDir(this.fs, this.dir);
      return String(seq);
    });
  }

  async read(after: string | 'earliest', max: number): Promise<{ entries: ForgetEntry[]; next: string }> {
    const from = after === 'earliest' ? 0 : Number(after);
    const entries = (await this.entries()).entries
      .filter((e) => Number(e.id) > from)
      .slice(0, Math.max(0, max));
    return { entries, next: entries.at(-1)?.id ?? String(from) };
  }

  async latest(): Promise<string> {
    return String((await this.entries()).lastSeq);
  }

  /** A damaged offsets file reads as "nothing applied": the journal keeps everything for that group. */
  async committed(group: string): Promise<string | undefined> {
    const stored = await this.offsets.get(group);
    if (stored === undefined) return undefined;
    return 'offset' in stored ? stored.offset : '0';
  }

  async commit(group: string, next: string): Promise<void> {
    checkGroup(group);
    await this.offsets.set(group, next);
  }

  async trim(beforeMs: number, waitFor: readonly string[]): Promise<{ deleted: number; heldFor: string[] }> {
    const positions = new Map<string, string | undefined>();
    for (const group of waitFor) {
      const at = await this.committed(group);
      if (at !== undefined) positions.set(group, at);
    }
    return this.locked(async () => {
      const { entries, lastSeq } = await this.entries();
      const { drop, heldFor } = prefixToDrop(entries, beforeMs, waitFor, positions);
      if (drop === 0) return { deleted: 0, heldFor };
      const kept = entries.slice(drop);
      const lastDropped = Number(entries[drop - 1]!.id);
      const text = [
        JSON.stringify({ seq: kept.length > 0 ? lastDropped : lastSeq }),
        ...kept.map(({ id, atMs, orderIds, riderIds, customerIds }) =>
          JSON.stringify({ seq: Number(id), atMs, orderIds, riderIds, customerIds }),
        ),
      ].join('\n');
      const tmp = `${this.file}.${process.pid}.tmp`;
      const handle = await this.fs.open(tmp, 'w');
      try {
        await handle.writeFile(`${text}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.fs.rename(tmp, this.file);
      await syncDir(this.fs, this.dir);
      return { deleted: drop, heldFor };
    });
  }
}

export interface ForgetFollower {
  close(): Promise<void>;
}

/**
 * Follows the journal from now on: the handler gets every entry appended after the call resolved. Await it before
 * a projection starts replaying the log, so a forget that lands during the replay is either already applied to
 * the log the replay reads or delivered here afterwards. Never rejects: when the journal cannot be read at start,
 * it follows from its oldest entry instead (forgetting again is harmless).
 */
export async function followForgets(
  journal: ForgetJournal,
  handler: (entries: readonly ForgetEntry[]) => void | Promise<void>,
  options: { pollMs: number; onError?: (e: unknown) => void },
): Promise<ForgetFollower> {
  let after: string;
  try {
    after = await journal.latest();
  } catch (e) {
    options.onError?.(e);
    after = 'earliest';
  }
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = async (): Promise<void> => {
    let failures = 0;
    while (!stopped) {
      try {
        const { entries, next } = await journal.read(after, 100);
        if (entries.length > 0) await handler(entries);
        after = next;
        failures = 0;
        if (entries.length === 100) continue;
      } catch (e) {
        options.onError?.(e);
        failures++;
      }
      const ms = failures > 0 ? Math.min(5000, options.pollMs * 2 ** failures) : options.pollMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        timer.unref();
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  const done = loop();
  return {
    close: async () => {
      stopped = true;
      wake?.();
      await done;
    },
  };
}
