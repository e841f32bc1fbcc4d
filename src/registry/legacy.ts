import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelAlias, ModelRegistry } from './types.js';

/**
 * A data directory from before the SQL registry kept versions as files (`registry/models/v<N>.json`,
 * `registry/meta/v<N>.json`, `registry/aliases.json`). Into an empty registry they are imported once, in version
 * order, with their aliases, so an upgrade keeps serving the same champion instead of training a new first model.
 */
export async function importFileRegistry(dir: string, registry: ModelRegistry): Promise<number> {
  const names = await readdir(path.join(dir, 'meta')).catch(() => [] as string[]);
  if (names.length === 0 || (await registry.list()).length > 0) return 0;
  const versions = names
    .map((f) => /^v([1-9][0-9]*)\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  const renamed = new Map<string, string>();
  for (const n of versions) {
    const meta = JSON.parse(await readFile(path.join(dir, 'meta', `v${n}.json`), 'utf8')) as {
      source: string;
      metrics?: Record<string, number>;
    };
    const artifact = JSON.parse(await readFile(path.join(dir, 'models', `v${n}.json`), 'utf8')) as unknown;
    const record = await registry.register(artifact, { source: meta.source, metrics: meta.metrics ?? {} });
    renamed.set(`v${n}`, record.version);
  }
  const aliases = JSON.parse(
    await readFile(path.join(dir, 'aliases.json'), 'utf8').catch(() => '{}'),
  ) as Partial<Record<ModelAlias, string>>;
  for (const [alias, version] of Object.entries(aliases) as Array<[ModelAlias, string]>) {
    const now = renamed.get(version);
    if (now) await registry.setAlias(alias, now, 'imported from the file registry');
  }
  return versions.length;
}
