import { EtaError } from '../platform/index.js';
import type {
  AliasChange,
  FeatureProfile,
  GoldenSet,
  ModelAlias,
  ModelRecord,
  ModelRegistry,
  RegisterMeta,
} from './types.js';

interface Stored extends Omit<ModelRecord, 'aliases'> {
  artifact: string;
  golden?: GoldenSet;
  profile?: FeatureProfile;
}

/** For tests and single-process tools: the same contract as the SQL registry, nothing on disk. */
export class InMemoryModelRegistry implements ModelRegistry {
  private readonly records: Stored[] = [];
  private readonly aliases = new Map<ModelAlias, string>();
  private readonly history: AliasChange[] = [];

  async register(artifact: unknown, meta: RegisterMeta): Promise<ModelRecord> {
    const record: Stored = {
      version: `v${this.records.length + 1}`,
      createdAt: new Date().toISOString(),
      source: meta.source,
      metrics: { ...meta.metrics },
      artifact: JSON.stringify(artifact),
      golden: meta.golden,
      profile: meta.profile,
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
    const artifact = JSON.parse(r.artifact) as unknown;
    return r.golden && typeof artifact === 'object' && artifact !== null
      ? { ...(artifact as Record<string, unknown>), golden: r.golden }
      : artifact;
  }

  async loadProfile(version: string): Promise<FeatureProfile | undefined> {
    return this.records.find((x) => x.version === version)?.profile;
  }

  async resolve(alias: ModelAlias): Promise<string | undefined> {
    return this.aliases.get(alias);
  }

  async setAlias(alias: ModelAlias, version: string | null, reason = 'set'): Promise<void> {
    if (version !== null && !this.records.some((r) => r.version === version))
      throw new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
    const previous = this.aliases.get(alias) ?? null;
    if (previous === version) return;
    if (version === null) this.aliases.delete(alias);
    else this.aliases.set(alias, version);
    this.history.push({
      seq: this.history.length + 1,
      alias,
      version,
      previous,
      at: new Date().toISOString(),
      reason,
    });
  }

  async aliasHistory(alias: ModelAlias, limit = 50): Promise<AliasChange[]> {
    return this.history
      .filter((h) => h.alias === alias)
      .reverse()
      .slice(0, limit);
  }

  async aliasesRevision(): Promise<string> {
    return String(this.history.length);
  }

  async close(): Promise<void> {}

  private toRecord({ artifact: _a, golden: _g, profile: _p, ...meta }: Stored): ModelRecord {
    const aliases = [...this.aliases]
      .filter(([, v]) => v === meta.version)
      .map(([a]) => a)
      .sort();
    return { ...meta, metrics: { ...meta.metrics }, aliases };
  }
}
