import path from 'node:path';
import { nodeFs, type FsLike } from './fs-like.js';
import { checkGroup } from './offsets-store.js';

/** Leases held in this process: the memory log's, where every holder is in one process. */
export class MemoryLeases {
  private readonly held = new Map<string, { holder: string; untilMs: number }>();

  async claim(name: string, holder: string, ttlMs: number, nowMs = Date.now()): Promise<boolean> {
    const current = this.held.get(name);
    if (current && current.holder !== holder && current.untilMs > nowMs) return false;
    this.held.set(name, { holder, untilMs: nowMs + ttlMs });
    return true;
  }

  async release(name: string, holder: string): Promise<void> {
    if (this.held.get(name)?.holder === holder) this.held.delete(name);
  }
}

/**
 * Leases of the file log: `<events dir>/leases/<name>.json` with the holder and its expiry, replaced atomically.
 * The file log lives on one node (`topology.sharedDisk`), where two processes claiming in the same millisecond is
 * the only race; the loser sees the winner's file at its next claim and stops.
 */
export class FileLeases {
  constructor(
    private readonly dir: string,
    private readonly fs: FsLike = nodeFs,
  ) {}

  private file(name: string): string {
    checkGroup(name);
    return path.join(this.dir, `${name}.json`);
  }

  private async current(name: string): Promise<{ holder: string; untilMs: number } | undefined> {
    try {
      return JSON.parse(await this.fs.readFile(this.file(name), 'utf8')) as {
        holder: string;
        untilMs: number;
      };
    } catch {
      return undefined;
    }
  }

  async claim(name: string, holder: string, ttlMs: number, nowMs = Date.now()): Promise<boolean> {
    const current = await this.current(name);
    if (current && current.holder !== holder && current.untilMs > nowMs) return false;
    await this.fs.mkdir(this.dir, { recursive: true });
    const file = this.file(name);
    const tmp = `${file}.${process.pid}.tmp`;
    await this.fs.writeFile(tmp, JSON.stringify({ holder, untilMs: nowMs + ttlMs }));
    await this.fs.rename(tmp, file);
    return (await this.current(name))?.holder === holder;
  }

  async release(name: string, holder: string): Promise<void> {
    if ((await this.current(name))?.holder === holder) await this.fs.rm(this.file(name), { force: true });
  }
}
