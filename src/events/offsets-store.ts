import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LogOffset } from './types.js';

const GROUP = /^[A-Za-z0-9._-]{1,100}$/;

export function checkGroup(group: string): void {
  if (!GROUP.test(group))
    throw new Error(`consumer group names are 1-100 of A-Z a-z 0-9 . _ - (not ${JSON.stringify(group)})`);
}

/**
 * Committed offsets of consumer groups, one small file each, replaced atomically (write, then rename). Not fsync'd:
 * losing a commit in a power cut only redelivers a batch, which at-least-once consumers tolerate.
 */
export class OffsetsStore {
  constructor(private readonly dir: string) {}

  private file(group: string): string {
    checkGroup(group);
    return path.join(this.dir, `${group}.json`);
  }

  async get(group: string): Promise<LogOffset | undefined> {
    try {
      const parsed = JSON.parse(await fs.readFile(this.file(group), 'utf8')) as { offset?: unknown };
      return typeof parsed.offset === 'string' ? parsed.offset : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async set(group: string, offset: LogOffset): Promise<void> {
    const file = this.file(group);
    await fs.mkdir(this.dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify({ offset, at: new Date().toISOString() }));
    await fs.rename(tmp, file);
  }
}
