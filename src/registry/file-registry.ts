import { createHash } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EtaError } from '../platform/index.js';
import type { ModelAlias, ModelRecord, ModelRegistry } from './types.js';

type Meta = Omit<ModelRecord, 'aliases'>;
type Aliases = Partial<Record<ModelAlias, string>>;

const VERSION = /^v([1-9][0-9]*)$/;
const LOCK_STALE_MS = 10_000;

/**
 * The registry as files in a directory that every process of a deployment shares:
 *
 *     models/v<N>.json   the artifact, immutable
 *     meta/v<N>.json     its record (source, metrics, created at)
 *     aliases.json       { "champion": "v3", ... }
 *
 * Every file appears whole or not at all: it is written to a temporary name first. A version is claimed by
 * hard-linking the finished artifact to `models/v<N>.json`; link(2), unlike rename(2), fails when the name exists,
 * so two processes registering at once get different versions and neither overwrites the other.
 */
export class FileModelRegistry implements ModelRegistry {
  private readonly models: string;
  private readonly meta: string;
  private readonly aliasesFile: string;

  constructor(private readonly dir: string) {
    this.models = path.join(dir, 'models');
    this.meta = path.join(dir, 'meta');
    this.aliasesFile = path.join(dir, 'aliases.json');
  }

  async register(
    artifact: unknown,
    meta: { source: string; metrics?: Record<string, number> },
  ): Promise<ModelRecord> {
    await mkdir(this.models, { recursive: true });
    await mkdir(this.meta, { recursive: true });
    const tmp = this.tempName(this.models);
    await writeFile(tmp, JSON.stringify(artifact));
    try {
      let n = (await this.highestVersion()) + 1;
      for (;;) {
        try {
          await link(tmp, path.join(this.models, `v${n}.json`));
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          n++;
        }
      }
      const record: Meta = {
        version: `v${n}`,
        createdAt: new Date().toISOString(),
        source: meta.source,
        metrics: meta.metrics ?? {},
      };
      await this.writeAtomic(path.join(this.meta, `v${n}.json`), JSON.stringify(record));
      return { ...record, aliases: [] };
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /** Newest first. A version whose record is still being written is not listed yet. */
  async list(): Promise<ModelRecord[]> {
    const names = await readdir(this.meta).catch(() => [] as string[]);
    const aliases = await this.readAliases();
    const records = await Promise.all(
      names
        .filter((f) => VERSION.test(f.replace(/\.json$/, '')) && f.endsWith('.json'))
        .map((f) => this.readMeta(f.slice(0, -5))),
    );
    return records
      .filter((r): r is Meta => r !== undefined)
      .sort((a, b) => versionNumber(b.version) - versionNumber(a.version))
      .map((r) => withAliases(r, aliases));
  }

  async get(version: string): Promise<ModelRecord | undefined> {
    if (!VERSION.test(version)) return undefined;
    const meta = await this.readMeta(version);
    return meta && withAliases(meta, await this.readAliases());
  }

  async loadArtifact(version: string): Promise<unknown> {
    if (!VERSION.test(version))
      throw new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
    let text: string;
    try {
      text = await readFile(path.join(this.models, `${version}.json`), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
      throw e;
    }
    return JSON.parse(text) as unknown;
  }

  async resolve(alias: ModelAlias): Promise<string | undefined> {
    return (await this.readAliases())[alias];
  }

  async setAlias(alias: ModelAlias, version: string | null): Promise<void> {
    if (version !== null && !(await this.get(version))) {
      throw new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
    }
    await mkdir(this.dir, { recursive: true });
    await this.withAliasLock(async () => {
      const aliases = await this.readAliases();
      if (version === null) delete aliases[alias];
      else aliases[alias] = version;
      await this.writeAtomic(this.aliasesFile, JSON.stringify(aliases));
    });
  }

  /** A hash of aliases.json: a few hundred bytes to read, and equal exactly when the aliases are. */
  async aliasesRevision(): Promise<string> {
    const text = await readFile(this.aliasesFile, 'utf8').catch(() => '{}');
    return createHash('sha1').update(text).digest('hex').slice(0, 16);
  }

  private async highestVersion(): Promise<number> {
    const names = await readdir(this.models).catch(() => [] as string[]);
    let max = 0;
    for (const f of names) {
      const m = VERSION.exec(f.replace(/\.json$/, ''));
      if (m && f.endsWith('.json')) max = Math.max(max, Number(m[1]));
    }
    return max;
  }

  private async readMeta(version: string): Promise<Meta | undefined> {
    try {
      return JSON.parse(await readFile(path.join(this.meta, `${version}.json`), 'utf8')) as Meta;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  private async readAliases(): Promise<Aliases> {
    try {
      return JSON.parse(await readFile(this.aliasesFile, 'utf8')) as Aliases;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
  }

  private tempName(dir: string): string {
    return path.join(dir, `.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  }

  private async writeAtomic(file: string, text: string): Promise<void> {
    const tmp = this.tempName(path.dirname(file));
    await writeFile(tmp, text);
    await rename(tmp, file);
  }

  /**
   * Read-modify-write of aliases.json under an exclusive lock file, so two processes moving different aliases at
   * once both win. A lock left by a crashed process is broken after LOCK_STALE_MS.
   */
  private async withAliasLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = path.join(this.dir, 'aliases.lock');
    const deadline = Date.now() + 2 * LOCK_STALE_MS;
    for (let wait = 5; ; wait = Math.min(100, wait * 2)) {
      try {
        const handle = await open(lock, 'wx');
        await handle.close();
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const age = await stat(lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if (age > LOCK_STALE_MS) await rm(lock, { force: true });
        else if (Date.now() > deadline)
          throw new EtaError('conflict', 'the model registry aliases are locked by another process');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }
}

const versionNumber = (v: string): number => Number(VERSION.exec(v)?.[1] ?? 0);

function withAliases(meta: Meta, aliases: Aliases): ModelRecord {
  const held = (Object.keys(aliases) as ModelAlias[]).filter((a) => aliases[a] === meta.version).sort();
  return { ...meta, aliases: held };
}
