import path from 'node:path';
import { syncDir, type FsLike } from './fs-like.js';

/**
 * Where damage was found: in the segment being appended to (at open), in a sealed segment (at open or by a read),
 * in a segment of format 1 (which has no marker to resynchronise on, so the rest of it is unreadable), or in a
 * consumer group's offsets file.
 */
export type DamageKind = 'active' | 'sealed' | 'format1' | 'offsets';

export interface DamageReport {
  kind: DamageKind;
  /** The file's name in the log directory. */
  file: string;
  /** Byte offset in the file and bytes that are not records (segments only). */
  at?: number;
  bytes?: number;
  reason: string;
  /** The copy kept under quarantine/, when one was made. */
  quarantined?: string;
}

/** Reasons readiness shows at most; the count says how many more. */
const SHOWN = 3;

/**
 * Damage the log found: each place reported once per process (a log line and a metric, by the module), the damaged
 * file copied once under `<dir>/quarantine/` as it was when found, and kept as a readiness reason (degraded) until
 * the process restarts. The original stays in place: readers step over the damage and read what follows it.
 */
export class DamageLedger {
  private readonly seen = new Set<string>();
  private readonly copied = new Map<string, string>();
  private readonly reasons: string[] = [];

  constructor(
    private readonly fs: FsLike,
    private readonly dir: string,
    private readonly now: () => number,
    private readonly onDamage?: (report: DamageReport) => void,
  ) {}

  async report(kind: DamageKind, file: string, reason: string, at?: number, bytes?: number): Promise<void> {
    const name = path.basename(file);
    const key = `${name}:${at ?? ''}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const quarantined = kind === 'offsets' ? undefined : await this.quarantine(file);
    const where = at === undefined ? name : `${name} at byte ${at} (${bytes ?? 0} bytes)`;
    this.reasons.push(`event log damage in ${where}: ${reason}`);
    this.onDamage?.({
      kind,
      file: name,
      ...(at !== undefined ? { at, bytes: bytes ?? 0 } : {}),
      reason,
      ...(quarantined ? { quarantined } : {}),
    });
  }

  /** A copy of the file as found, once; undefined when the copy failed (the report still goes out). */
  private async quarantine(file: string): Promise<string | undefined> {
    const name = path.basename(file);
    const done = this.copied.get(name);
    if (done) return done;
    const target = path.join('quarantine', `${name}.${this.now()}.damaged`);
    try {
      await this.fs.mkdir(path.join(this.dir, 'quarantine'), { recursive: true });
      await this.fs.copyFile(file, path.join(this.dir, target));
      await syncDir(this.fs, path.join(this.dir, 'quarantine'));
      this.copied.set(name, target);
      return target;
    } catch {
      return undefined;
    }
  }

  /** The readiness reasons: empty while nothing was found. */
  problems(): string[] {
    if (this.reasons.length <= SHOWN) return [...this.reasons];
    return [...this.reasons.slice(0, SHOWN), `and ${this.reasons.length - SHOWN} more damaged places`];
  }
}
