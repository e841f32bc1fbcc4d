import { EtaError } from '../platform/index.js';
import type { ModelAlias, ModelRecord, ModelRegistry } from './types.js';

/** For tests and single-process tools: the same contract as the file registry, nothing on disk. */
export class InMemoryModelRegistry implements ModelRegistry {
  private readonly records: Array<Omit<ModelRecord, 'aliases'> & { artifact: string }> = [];
  private readonly aliases = new Map<ModelAlias, string>();
  private revision = 0;

  async register(
    artifact: unknown,
    meta: { source: string; metrics?: Record<string, number> },
  ): Promise<ModelRecord> {
    const record = {
      version: `v${this.records.length + 1}`,
      createdAt: new Date().toISOString(),
      source: meta.source,
      metrics: { ...meta.metrics },
      artifact: JSON.stringify(artifact),
    };
    this.records.push(record);
    return this.toRecord(record);
  }

  async list(): Promise<ModelRecord[]> {
    return [...this.records].reverse().map((r) => this.toRecord(r));
  }

  async get(version: string): Promise<ModelRecord | undefined> {
    const r = this.records.find((x) => x.version === version);
    return r && this.toRecord(r);
  }

  async loadArtifact(version: string): Promise<unknown> {
    const r = this.records.find((x) => x.version === version);
    if (!r) throw new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
    return JSON.parse(r.artifact) as unknown;
  }

  async resolve(alias: ModelAlias): Promise<string | undefined> {
    return this.aliases.get(alias);
  }

  async setAlias(alias: ModelAlias, version: string | null): Promise<void> {
    if (version === null) this.aliases.delete(alias);
    else if (!this.records.some((r) => r.version === version)) {
      throw new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
    } else this.aliases.set(alias, version);
    this.revision++;
  }

  async aliasesRevision(): Promise<string> {
    return String(this.revision);
  }

  private toRecord({
    artifact: _artifact,
    ...meta
  }: Omit<ModelRecord, 'aliases'> & { artifact: string }): ModelRecord {
    const aliases = [...this.aliases]
      .filter(([, v]) => v === meta.version)
      .map(([a]) => a)
      .sort();
    return { ...meta, metrics: { ...meta.metrics }, aliases };
  }
}
