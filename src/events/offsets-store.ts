import path from 'node:path';
import { nodeFs, syncDir, type FsLike } from './fs-like.js';
import type { LogOffset } from './types.js';

const GROUP = /^[A-Za-z0-9._-]{1,100}$/;

export function checkGroup(group: string): void {
  if (!GROUP.test(group))
    throw new Error(`consumer group names are 1-100 of A-Z a-z 0-9 . _ - (not ${JSON.stringify(group)})`);
}

/** A group's stored offset: none, one, or a file that could not be read as one (empty, truncated, garbage). */
export type StoredOffset = { offset: LogOffset } | { damaged: string } | undefined;

/**
 * Committed offsets of consumer groups, one small file each, replaced atomically: temp file, fsync, rename, fsync of
 * the directory. A file that is still damaged (a disk fault, a copy gone wrong) is reported, not thrown forever: the
 * caller falls back to a position that skips nothing.
 */
export class OffsetsStore {
  constructor(
    private readonly dir: string,
    private readonly fs: FsLike = nodeFs,
  ) {}

  private file(group: string): string {
    checkGroup(group);
    return path.join(this.dir, `${group}.json`);
  }

  async get(group: string): Promise<StoredOffset> {
    let text: string;
    try {
      text = await this.fs.readFile(this.file(group), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const parsed = JSON.parse(text) as { offset?: unknown };
      if (typeof parsed.offset === 'string' && parsed.offset !== '') return { offset: parsed.offset };
      return { damaged: 'no offset in it' };
    } catch {
      return { damaged: text.length === 0 ? 'empty file' : 'not JSON' };
    }
  }

  /** Every group with an offset file here, and what it holds. */
  async all(): Promise<Map<string, StoredOffset>> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw e;
    }
    const out = new Map<string, StoredOffset>();
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const group = name.slice(0, -'.json'.length);
      if (GROUP.test(group)) out.set(group, await this.get(group));
    }
    return out;
  }

  async set(group: string, offset: LogOffset): Promise<void> {
    const file = this.file(group);
    await this.fs.mkdir(this.dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const handle = await this.fs.open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify({ offset, at: new Date().toISOString() }));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.fs.rename(tmp, file);
    await syncDir(this.fs, this.dir);
  }
}
