export type ModelAlias = 'champion' | 'challenger';

export interface ModelRecord {
  /** Immutable, assigned by the registry: "v1", "v2", ... */
  version: string;
  createdAt: string;
  /** Where it came from: "simulated", "xgboost-import", a training run id. */
  source: string;
  /** Evaluation metrics recorded at registration (mae_s, rmse_s, coverage_p10_p90, ...). */
  metrics: Record<string, number>;
  aliases: ModelAlias[];
}

/**
 * Immutable versioned model artifacts and the aliases that point at them. Every process of a deployment sees the
 * same registry (shared data directory now; the SQL store later), and predictors poll `aliasesRevision` to notice
 * a promotion.
 */
export interface ModelRegistry {
  register(artifact: unknown, meta: { source: string; metrics?: Record<string, number> }): Promise<ModelRecord>;
  list(): Promise<ModelRecord[]>;
  get(version: string): Promise<ModelRecord | undefined>;
  /** The artifact JSON as registered. */
  loadArtifact(version: string): Promise<unknown>;
  resolve(alias: ModelAlias): Promise<string | undefined>;
  setAlias(alias: ModelAlias, version: string | null): Promise<void>;
  /** Changes whenever an alias moves; cheap to poll. */
  aliasesRevision(): Promise<string>;
}
