import { EtaError } from '../platform/index.js';
import type {
  AliasChange,
  AuditEntry,
  EvaluationSet,
  FeatureProfile,
  GoldenSet,
  ModelAlias,
  ModelRecord,
  ModelRegistry,
  OnlineRangeCheckpoint,
  RegisterMeta,
} from './types.js';

interface Stored extends Omit<ModelRecord, 'aliases'> {
  artifact: string;
  golden?: GoldenSet;
  profile?: FeatureProfile;
  zoneSpeeds?: unknown;
  orderLegs?: unknown;
  evaluation?: EvaluationSet;
}

/** For tests and single-process tools: the same contract as the SQL registry, nothing on disk. */
export class InMemoryModelRegistry implements ModelRegistry {
  private readonly records: Stored[] = [];
  private readonly aliases = new Map<ModelAlias, string>();
  private readonly history: AliasChange[] = [];
  private readonly auditLog: AuditEntry[] = [];
  private nextNumber = 1;
  private readonly onlineRanges = new Map<string, { state: string; logOffset: string; savedAt: string }>();

  async register(artifact: unknown, meta: RegisterMeta): Promise<ModelRecord> {
    const record: Stored = {
      version: `v${this.nextNumber++}`,
      createdAt: new Date().toISOString(),
      source: meta.source,
      metrics: { ...meta.metrics },
      artifact: JSON.stringify(artifact),
      golden: meta.golden,
      profile: meta.profile,
      zoneSpeeds: meta.zoneSpeeds,
      orderLegs: meta.orderLegs,
      ...(meta.domain ? { domain: meta.domain } : {}),
      ...(meta.evaluation ? { evaluation: meta.evaluation } : {}),
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

  async loadZoneSpeeds(version: string): Promise<unknown> {
    return this.records.find((x) => x.version === version)?.zoneSpeeds;
  }

  async loadOrderLegs(version: string): Promise<unknown> {
    return this.records.find((x) => x.version === version)?.orderLegs;
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

  async loadEvaluation(version: string): Promise<EvaluationSet | undefined> {
    return this.records.find((x) => x.version === version)?.evaluation;
  }

  async remove(version: string): Promise<void> {
    const held = [...this.aliases].find(([, v]) => v === version);
    if (held)
      throw new EtaError('conflict', `${version} is the ${held[0]}: it cannot be deleted`, {
        field: 'version',
      });
    const i = this.records.findIndex((r) => r.version === version);
    if (i >= 0 && i === this.records.length - 1)
      throw new EtaError(
        'conflict',
        `${version} is the newest version: it is kept so its name is never reused`,
        {
          field: 'version',
        },
      );
    if (i >= 0) this.records.splice(i, 1);
  }

  async saveOnlineRanges(checkpoint: Omit<OnlineRangeCheckpoint, 'savedAt'>): Promise<OnlineRangeCheckpoint> {
    const previous = this.onlineRanges.get(checkpoint.version)?.savedAt ?? '';
    let savedAt = new Date().toISOString();
    // Two saves in one millisecond still read as newer: pollers skip only what they have.
    if (savedAt <= previous) savedAt = new Date(Date.parse(previous) + 1).toISOString();
    this.onlineRanges.set(checkpoint.version, {
      state: JSON.stringify(checkpoint.state),
      logOffset: checkpoint.logOffset,
      savedAt,
    });
    return { ...checkpoint, savedAt };
  }

  async loadOnlineRanges(version: string, savedAfter = ''): Promise<OnlineRangeCheckpoint | undefined> {
    const saved = this.onlineRanges.get(version);
    if (!saved || saved.savedAt <= savedAfter) return undefined;
    return {
      version,
      state: JSON.parse(saved.state) as unknown,
      logOffset: saved.logOffset,
      savedAt: saved.savedAt,
    };
  }

  async appendAudit(entry: Omit<AuditEntry, 'at'> & { at?: string }): Promise<AuditEntry> {
    const full: AuditEntry = { ...entry, at: entry.at ?? new Date().toISOString() };
    this.auditLog.push(full);
    return full;
  }

  async audit(limit = 50): Promise<AuditEntry[]> {
    return [...this.auditLog].reverse().slice(0, Math.max(1, limit));
  }

  async close(): Promise<void> {}

  private toRecord({
    artifact: _a,
    golden: _g,
    profile: _p,
    zoneSpeeds: _z,
    orderLegs: _l,
    evaluation: _e,
    ...meta
  }: Stored): ModelRecord {
    const aliases = [...this.aliases]
      .filter(([, v]) => v === meta.version)
      .map(([a]) => a)
      .sort();
    return { ...meta, metrics: { ...meta.metrics }, aliases };
  }
}
