export type ModelAlias = 'champion' | 'challenger';
export const MODEL_ALIASES: readonly ModelAlias[] = ['champion', 'challenger'];

export interface ModelRecord {
  /** Immutable, assigned by the registry: "v1", "v2", ... */
  version: string;
  createdAt: string;
  /** Where it came from: "simulated", "xgboost-import", a training run id. */
  source: string;
  /** Evaluation metrics recorded at registration (mae_s, rmse_s, coverage_p10_p90, ...). */
  metrics: Record<string, number>;
  aliases: ModelAlias[];
  /** What it was trained on (recorded at training since the audit log came in); absent on older entries. */
  domain?: ModelDomain;
}

/**
 * Where a model's training data came from, so that a model of another city or another feature set is never compared
 * with (or promoted over) the champion as if it were the same problem.
 */
export interface ModelDomain {
  /** Feature names in input order. */
  features: string[];
  /** IANA timezones of the training stores. */
  timezones: string[];
  stores: number;
  /** Sorted store ids (at most 5,000): a model of the same city shares most of them. */
  storeIds: string[];
  /** Of the training stores' locations. */
  bbox: { minLat: number; maxLat: number; minLng: number; maxLng: number } | null;
}

/** The newest hold-out rows of a training run: a promotion scores champion and challenger on exactly these. */
export interface EvaluationSet {
  features: string[];
  /** Column-major feature values; null stands for a missing value (NaN). */
  columns: Array<Array<number | null>>;
  /** Seconds from order to delivery. */
  target: number[];
  fromMs: number;
  toMs: number;
}

export type AuditAction = 'promote' | 'rollback' | 'promote_refused' | 'retention';

/** One promotion, rollback, refusal or deletion, by whom, and the comparison it rested on. */
export interface AuditEntry {
  at: string;
  action: AuditAction;
  version: string | null;
  /** The champion before. */
  previous: string | null;
  /** API key id, "cli", "schedule", "pipeline". */
  actor: string;
  forced: boolean;
  reason: string | null;
  summary: string;
}

/** Rows and the outputs the model gave them at registration: a predictor refuses an artifact that disagrees. */
export interface GoldenSet {
  rows: number[][];
  predictions: number[][];
}

/** The training distribution of one feature: bin upper edges (the last bin is open) and each bin's share. */
export interface FeatureHistogram {
  name: string;
  /** Ascending; bin i holds values <= edges[i] (and > edges[i-1]); one more bin holds values above the last edge. */
  edges: number[];
  /** edges.length + 2 shares: the bins, the open top bin, then missing values (NaN). Sum to 1. */
  shares: number[];
}

/** What live traffic is compared against for drift (PSI per feature). */
export interface FeatureProfile {
  rows: number;
  features: FeatureHistogram[];
  /**
   * The same bins counted per local hour of week (Monday 0:00 = 0 … 167), so a window of live traffic is compared
   * with training rows of the hours it covers. Absent in profiles registered before drift was time-conditioned:
   * those are compared with all hours, and the drift report says so.
   */
  byHourOfWeek?: HourOfWeekProfile;
}

export interface HourOfWeekProfile {
  /** Training rows per hour of week (168). */
  rows: number[];
  /** counts[feature][hour]: bin counts like `FeatureHistogram.shares` (edges.length + 2), or [] for an hour with no rows. */
  counts: number[][][];
}

export interface RegisterMeta {
  source: string;
  metrics?: Record<string, number>;
  golden?: GoldenSet;
  profile?: FeatureProfile;
  domain?: ModelDomain;
  evaluation?: EvaluationSet;
  /** The zone speed table the version's travel features were computed with (geo's JSON; opaque here). */
  zoneSpeeds?: unknown;
  /** The order-leg models trained with it (the orders module's artifact; opaque here). */
  orderLegs?: unknown;
}

/** One move of an alias: who pointed where before and after, and why. */
export interface AliasChange {
  seq: number;
  alias: ModelAlias;
  version: string | null;
  previous: string | null;
  at: string;
  reason: string;
}

/**
 * A version's online range state (`OnlineSegmentedRanges.toJSON`, opaque here) fed from the event log up to
 * `logOffset` (the next record to apply).
 */
export interface OnlineRangeCheckpoint {
  version: string;
  state: unknown;
  logOffset: string;
  /** ISO time of the save; strictly increasing per version, so a poll can skip an unchanged state. */
  savedAt: string;
}

/**
 * Immutable versioned model artifacts and the aliases that point at them. Every process of a deployment sees the
 * same registry (the SQL database of the catalog), and predictors poll `aliasesRevision` to notice a promotion.
 */
export interface ModelRegistry {
  register(artifact: unknown, meta: RegisterMeta): Promise<ModelRecord>;
  /** Newest first. */
  list(): Promise<ModelRecord[]>;
  get(version: string): Promise<ModelRecord | undefined>;
  /** The artifact JSON as registered, with its golden set (when one was stored) under `golden`. */
  loadArtifact(version: string): Promise<unknown>;
  loadProfile(version: string): Promise<FeatureProfile | undefined>;
  /** The zone speeds registered with the version; undefined for a version registered without them. */
  loadZoneSpeeds(version: string): Promise<unknown>;
  /** The order-leg models registered with the version; undefined for a version registered without them. */
  loadOrderLegs(version: string): Promise<unknown>;
  resolve(alias: ModelAlias): Promise<string | undefined>;
  /** `reason` goes into the alias history (`promote`, `rollback`, `policy: ...`). */
  setAlias(alias: ModelAlias, version: string | null, reason?: string): Promise<void>;
  /** Newest first. */
  aliasHistory(alias: ModelAlias, limit?: number): Promise<AliasChange[]>;
  /** Changes whenever an alias moves; cheap to poll. */
  aliasesRevision(): Promise<string>;
  loadEvaluation(version: string): Promise<EvaluationSet | undefined>;
  /** Deletes a version and its artifact; refused (conflict) while an alias points at it, and for the newest. */
  remove(version: string): Promise<void>;
  appendAudit(entry: Omit<AuditEntry, 'at'> & { at?: string }): Promise<AuditEntry>;
  /** Newest first. */
  audit(limit?: number): Promise<AuditEntry[]>;
  /** Replaces the version's online range state. */
  saveOnlineRanges(checkpoint: Omit<OnlineRangeCheckpoint, 'savedAt'>): Promise<OnlineRangeCheckpoint>;
  /** The version's online range state; undefined when none, or when none was saved after `savedAfter`. */
  loadOnlineRanges(version: string, savedAfter?: string): Promise<OnlineRangeCheckpoint | undefined>;
  close(): Promise<void>;
}
