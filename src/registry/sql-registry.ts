import { EtaError, migrateOnce, type SqlRunner } from '../platform/index.js';
import { REGISTRY_MIGRATIONS } from './migrations.js';
import type {
  AliasChange,
  AuditEntry,
  EvaluationSet,
  FeatureProfile,
  ModelAlias,
  ModelDomain,
  ModelRecord,
  ModelRegistry,
  OnlineRangeCheckpoint,
  RegisterMeta,
} from './types.js';

const VERSION = /^v([1-9][0-9]*)$/;
const MAX_CLAIM_ATTEMPTS = 20;

interface VersionRow {
  version: string;
  created_at: string;
  source: string;
  metrics: string;
  domain: string | null;
}

const VERSION_COLUMNS = 'version, created_at, source, metrics, domain';

interface AuditRow {
  at: string;
  action: AuditEntry['action'];
  version: string | null;
  previous: string | null;
  actor: string;
  forced: number | string | boolean;
  reason: string | null;
  summary: string;
}

/**
 * The registry in the catalog's SQL database (SQLite in WAL mode for one machine, PostgreSQL for a fleet), so every
 * process of a deployment sees the same versions and aliases. Versions are rows that are never updated; aliases are
 * one row each, and every move is appended to `model_alias_history`, which is what `rollback` walks back through.
 * The alias revision is the newest history sequence number: one indexed read per poll.
 */
export class SqlModelRegistry implements ModelRegistry {
  private readonly ready: () => Promise<unknown>;

  constructor(
    private readonly db: SqlRunner,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    this.ready = migrateOnce(db, 'registry', REGISTRY_MIGRATIONS);
  }

  async register(artifact: unknown, meta: RegisterMeta): Promise<ModelRecord> {
    await this.ready();
    const createdAt = new Date().toISOString();
    const artifactJson = JSON.stringify(artifact);
    // Two processes may read the same maximum; the primary key makes the loser retry with the next number.
    for (let attempt = 0; ; attempt++) {
      try {
        const n = await this.db.transaction(async (tx) => {
          const [row] = await tx.query<{ n: number | string | null }>(
            'SELECT MAX(version_number) AS n FROM model_versions',
          );
          const next = Number(row?.n ?? 0) + 1;
          await tx.query(
            `INSERT INTO model_versions (version_number, version, created_at, source, metrics, artifact, golden, profile, domain, evaluation, zone_speeds, order_legs)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
            [
              next,
              `v${next}`,
              createdAt,
              meta.source,
              JSON.stringify(meta.metrics ?? {}),
              artifactJson,
              meta.golden ? JSON.stringify(meta.golden) : null,
              meta.profile ? JSON.stringify(meta.profile) : null,
              meta.domain ? JSON.stringify(meta.domain) : null,
              meta.evaluation ? JSON.stringify(meta.evaluation) : null,
              meta.zoneSpeeds === undefined ? null : JSON.stringify(meta.zoneSpeeds),
              meta.orderLegs === undefined ? null : JSON.stringify(meta.orderLegs),
            ],
          );
          return next;
        });
        return {
          version: `v${n}`,
          createdAt,
          source: meta.source,
          metrics: { ...meta.metrics },
          aliases: [],
          ...(meta.domain ? { domain: meta.domain } : {}),
        };
      } catch (e) {
        if (!isUniqueViolation(e) || attempt >= MAX_CLAIM_ATTEMPTS) throw e;
      }
    }
  }

  async list(): Promise<ModelRecord[]> {
    await this.ready();
    const rows = await this.db.query<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM model_versions ORDER BY version_number DESC`,
    );
    const aliases = await this.aliases();
    return rows.map((r) => toRecord(r, aliases));
  }

  async get(version: string): Promise<ModelRecord | undefined> {
    if (!VERSION.test(version)) return undefined;
    await this.ready();
    const [row] = await this.db.query<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE version = $1`,
      [version],
    );
    return row && toRecord(row, await this.aliases());
  }

  async loadArtifact(version: string): Promise<unknown> {
    await this.ready();
    const [row] = VERSION.test(version)
      ? await this.db.query<{ artifact: string; golden: string | null }>(
          'SELECT artifact, golden FROM model_versions WHERE version = $1',
          [version],
        )
      : [];
    if (!row) throw notFound(version);
    const artifact = JSON.parse(row.artifact) as unknown;
    if (row.golden === null || typeof artifact !== 'object' || artifact === null) return artifact;
    return { ...(artifact as Record<string, unknown>), golden: JSON.parse(row.golden) as unknown };
  }

  async loadProfile(version: string): Promise<FeatureProfile | undefined> {
    return (await this.jsonColumn(version, 'profile')) as FeatureProfile | undefined;
  }

  async loadZoneSpeeds(version: string): Promise<unknown> {
    return this.jsonColumn(version, 'zone_speeds');
  }

  async loadOrderLegs(version: string): Promise<unknown> {
    return this.jsonColumn(version, 'order_legs');
  }

  /** One JSON document stored with a version; undefined when the version has none (or does not exist). */
  private async jsonColumn(
    version: string,
    column: 'profile' | 'zone_speeds' | 'order_legs',
  ): Promise<unknown> {
    await this.ready();
    const [row] = await this.db.query<Record<string, string | null>>(
      `SELECT ${column} AS value FROM model_versions WHERE version = $1`,
      [version],
    );
    return row?.value ? (JSON.parse(row.value) as unknown) : undefined;
  }

  async resolve(alias: ModelAlias): Promise<string | undefined> {
    return (await this.aliases()).get(alias);
  }

  async setAlias(alias: ModelAlias, version: string | null, reason = 'set'): Promise<void> {
    await this.ready();
    if (version !== null && !(await this.get(version))) throw notFound(version);
    const at = new Date().toISOString();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.transaction(async (tx) => {
          const [current] = await tx.query<{ version: string }>(
            'SELECT version FROM model_aliases WHERE alias = $1',
            [alias],
          );
          const previous = current?.version ?? null;
          if (previous === version) return;
          await tx.query('DELETE FROM model_aliases WHERE alias = $1', [alias]);
          if (version !== null)
            await tx.query('INSERT INTO model_aliases (alias, version, updated_at) VALUES ($1, $2, $3)', [
              alias,
              version,
              at,
            ]);
          const [row] = await tx.query<{ n: number | string | null }>(
            'SELECT MAX(seq) AS n FROM model_alias_history',
          );
          await tx.query(
            'INSERT INTO model_alias_history (seq, alias, version, previous, at, reason) VALUES ($1, $2, $3, $4, $5, $6)',
            [Number(row?.n ?? 0) + 1, alias, version, previous, at, reason],
          );
        });
        return;
      } catch (e) {
        if (!isUniqueViolation(e) || attempt >= MAX_CLAIM_ATTEMPTS) throw e;
      }
    }
  }

  async aliasHistory(alias: ModelAlias, limit = 50): Promise<AliasChange[]> {
    await this.ready();
    const rows = await this.db.query<{
      seq: number | string;
      alias: ModelAlias;
      version: string | null;
      previous: string | null;
      at: string;
      reason: string;
    }>(
      'SELECT seq, alias, version, previous, at, reason FROM model_alias_history WHERE alias = $1 ORDER BY seq DESC LIMIT $2',
      [alias, Math.max(1, Math.trunc(limit))],
    );
    return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
  }

  async aliasesRevision(): Promise<string> {
    await this.ready();
    const [row] = await this.db.query<{ n: number | string | null }>(
      'SELECT MAX(seq) AS n FROM model_alias_history',
    );
    return String(row?.n ?? 0);
  }

  async loadEvaluation(version: string): Promise<EvaluationSet | undefined> {
    await this.ready();
    const [row] = await this.db.query<{ evaluation: string | null }>(
      'SELECT evaluation FROM model_versions WHERE version = $1',
      [version],
    );
    return row?.evaluation ? (JSON.parse(row.evaluation) as EvaluationSet) : undefined;
  }

  async remove(version: string): Promise<void> {
    await this.ready();
    await this.db.transaction(async (tx) => {
      const held = await tx.query<{ alias: string }>('SELECT alias FROM model_aliases WHERE version = $1', [
        version,
      ]);
      if (held.length > 0)
        throw new EtaError('conflict', `${version} is the ${held[0]!.alias}: it cannot be deleted`, {
          field: 'version',
        });
      // Numbers come from MAX(version_number): deleting the newest would hand its name to the next model.
      const [newest] = await tx.query<{ version: string }>(
        'SELECT version FROM model_versions ORDER BY version_number DESC LIMIT 1',
      );
      if (newest?.version === version)
        throw new EtaError(
          'conflict',
          `${version} is the newest version: it is kept so its name is never reused`,
          {
            field: 'version',
          },
        );
      await tx.query('DELETE FROM model_versions WHERE version = $1', [version]);
      await tx.query('DELETE FROM model_online_ranges WHERE version = $1', [version]);
    });
  }

  async saveOnlineRanges(checkpoint: Omit<OnlineRangeCheckpoint, 'savedAt'>): Promise<OnlineRangeCheckpoint> {
    await this.ready();
    const savedAt = new Date().toISOString();
    await this.db.query(
      `INSERT INTO model_online_ranges (version, state, log_offset, saved_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (version) DO UPDATE SET state = excluded.state, log_offset = excluded.log_offset, saved_at = excluded.saved_at`,
      [checkpoint.version, JSON.stringify(checkpoint.state), checkpoint.logOffset, savedAt],
    );
    return { ...checkpoint, savedAt };
  }

  async loadOnlineRanges(version: string, savedAfter = ''): Promise<OnlineRangeCheckpoint | undefined> {
    await this.ready();
    const [row] = await this.db.query<{ state: string; log_offset: string; saved_at: string }>(
      'SELECT state, log_offset, saved_at FROM model_online_ranges WHERE version = $1 AND saved_at > $2',
      [version, savedAfter],
    );
    return row
      ? {
          version,
          state: JSON.parse(row.state) as unknown,
          logOffset: row.log_offset,
          savedAt: row.saved_at,
        }
      : undefined;
  }

  async appendAudit(entry: Omit<AuditEntry, 'at'> & { at?: string }): Promise<AuditEntry> {
    await this.ready();
    const full: AuditEntry = { ...entry, at: entry.at ?? new Date().toISOString() };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.transaction(async (tx) => {
          const [row] = await tx.query<{ n: number | string | null }>(
            'SELECT MAX(seq) AS n FROM model_audit',
          );
          await tx.query(
            `INSERT INTO model_audit (seq, at, action, version, previous, actor, forced, reason, summary)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
            [
              Number(row?.n ?? 0) + 1,
              full.at,
              full.action,
              full.version,
              full.previous,
              full.actor,
              full.forced ? 1 : 0,
              full.reason,
              full.summary,
            ],
          );
        });
        return full;
      } catch (e) {
        if (!isUniqueViolation(e) || attempt >= MAX_CLAIM_ATTEMPTS) throw e;
      }
    }
  }

  async audit(limit = 50): Promise<AuditEntry[]> {
    await this.ready();
    const rows = await this.db.query<AuditRow>(
      'SELECT at, action, version, previous, actor, forced, reason, summary FROM model_audit ORDER BY seq DESC LIMIT $1',
      [Math.max(1, Math.trunc(limit))],
    );
    return rows.map((r) => ({ ...r, forced: r.forced === true || Number(r.forced) === 1 }));
  }

  close(): Promise<void> {
    return this.onClose();
  }

  private async aliases(): Promise<Map<ModelAlias, string>> {
    await this.ready();
    const rows = await this.db.query<{ alias: ModelAlias; version: string }>(
      'SELECT alias, version FROM model_aliases',
    );
    return new Map(rows.map((r) => [r.alias, r.version]));
  }
}

function toRecord(row: VersionRow, aliases: Map<ModelAlias, string>): ModelRecord {
  const held = [...aliases]
    .filter(([, v]) => v === row.version)
    .map(([a]) => a)
    .sort();
  return {
    version: row.version,
    createdAt: row.created_at,
    source: row.source,
    metrics: JSON.parse(row.metrics) as Record<string, number>,
    aliases: held,
    ...(row.domain ? { domain: JSON.parse(row.domain) as ModelDomain } : {}),
  };
}

function notFound(version: string): EtaError {
  return new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return (
    err.code === '23505' ||
    err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    err.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    /UNIQUE constraint/.test(err.message ?? '')
  );
}
