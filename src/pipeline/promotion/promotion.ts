import { loadModel, type Model } from '../../model/index.js';
import { EtaError } from '../../platform/index.js';
import {
  promote,
  championStack,
  rollback,
  setChallenger,
  type AuditEntry,
  type EvaluationSet,
  type ModelRecord,
  type ModelRegistry,
} from '../../registry/index.js';
import type { PolicyConfig } from '../config.js';
import {
  checkCompatibility,
  describeComparison,
  judgePromotion,
  type Comparison,
  type Compatibility,
  type ModelSide,
  type PolicyDecision,
} from './policy.js';

/** The smallest reason a forced promotion accepts: a word or two a colleague can act on. */
export const MIN_FORCE_REASON = 5;

export interface Retention {
  /** Versions kept besides the champion, the challenger and the previous champions. */
  keepVersions: number;
  /** Previous champions kept so that rollback can reach them. */
  keepPreviousChampions: number;
}

/** The champion and a challenger side by side on the same rows, and whether they answer the same question. */
export async function compareVersions(
  registry: ModelRegistry,
  challenger: ModelRecord,
  champion: ModelRecord | undefined,
): Promise<{ comparison: Comparison; compatibility: Compatibility }> {
  const challengerModel = await modelOf(registry, challenger.version);
  if (!champion) {
    return {
      comparison: {
        basis: 'none',
        rows: 0,
        challenger: recordedSide(challenger) ?? zero(challenger.version),
      },
      compatibility: { problems: [], notes: [] },
    };
  }
  const championModel = await modelOf(registry, champion.version);
  const compatibility = checkCompatibility(
    {
      version: challenger.version,
      features: featuresOf(challenger, challengerModel),
      ...domainOf(challenger),
    },
    { version: champion.version, features: featuresOf(champion, championModel), ...domainOf(champion) },
  );
  // The newest recent rows first: the challenger's hold-out is usually the later one.
  for (const version of [challenger.version, champion.version]) {
    const set = await registry.loadEvaluation(version);
    if (!set || !challengerModel || !championModel) continue;
    if (!sameInputs(set, challengerModel) || !sameInputs(set, championModel)) continue;
    return {
      comparison: {
        basis: 'same-rows',
        rows: set.target.length,
        window: { fromMs: set.fromMs, toMs: set.toMs },
        challenger: scoreOn(challengerModel, challenger.version, set),
        champion: scoreOn(championModel, champion.version, set),
      },
      compatibility,
    };
  }
  const a = recordedSide(challenger);
  const b = recordedSide(champion);
  return {
    comparison:
      a && b
        ? { basis: 'recorded', rows: 0, challenger: a, champion: b }
        : {
            basis: 'none',
            rows: 0,
            challenger: a ?? zero(challenger.version),
            champion: b ?? zero(champion.version),
          },
    compatibility,
  };
}

export interface PromoteOptions {
  policy: PolicyConfig;
  /** API key id, "cli", "console"... */
  actor: string;
  force?: boolean;
  reason?: string;
  /** How to override, in the caller's terms: "send force with a reason", "use --force --reason TEXT". */
  overrideHint?: string;
  /** The alias history's reason: "promote (admin API by k-1)", "promote (CLI)"; default "promote by ACTOR". */
  via?: string;
}

export interface PromoteOutcome {
  record: ModelRecord;
  previous: string | null;
  decision: PolicyDecision;
  comparison: Comparison;
  forced: boolean;
}

/**
 * A person's promotion (API, CLI, console): the manual policy decides, a refusal is a 409 with the numbers, and
 * `force` with a reason overrides it. Promotions, forced or not, and refusals go to the audit log.
 */
export async function guardedPromote(
  registry: ModelRegistry,
  version: string,
  options: PromoteOptions,
): Promise<PromoteOutcome> {
  const reason = options.reason?.trim() || null;
  if (options.force && (reason === null || reason.length < MIN_FORCE_REASON))
    throw new EtaError(
      'bad_request',
      `a forced promotion needs a reason of at least ${MIN_FORCE_REASON} characters: it goes into the audit log`,
      { field: 'reason' },
    );
  const record = await registry.get(version);
  if (!record) throw new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
  const previous = (await registry.resolve('champion')) ?? null;
  if (previous === version)
    throw new EtaError('conflict', `${version} is already the champion: nothing to promote`, {
      field: 'version',
    });
  const champion = previous ? await registry.get(previous) : undefined;
  const { comparison, compatibility } = await compareVersions(registry, record, champion);
  const decision = judgePromotion(options.policy, 'manual', comparison, compatibility);
  const notes = compatibility.notes.length ? `; ${compatibility.notes.join('; ')}` : '';
  const summary = `${decision.summary}. ${describeComparison(comparison)}${notes}`;
  if (!decision.promote && !options.force) {
    await registry.appendAudit({
      action: 'promote_refused',
      version,
      previous,
      actor: options.actor,
      forced: false,
      reason,
      summary,
    });
    throw new EtaError('conflict', refusalMessage(decision, options.overrideHint), {
      field: 'version',
      details: { checks: decision.checks.filter((c) => !c.passed).map((c) => c.detail) },
    });
  }
  const forced = !decision.promote;
  const promoted = await promote(
    registry,
    version,
    `${options.via ?? `promote by ${options.actor}`}${forced ? `, forced: ${reason}` : ''}`,
  );
  await registry.appendAudit({
    action: 'promote',
    version,
    previous,
    actor: options.actor,
    forced,
    reason,
    summary: forced ? `forced over: ${summary}` : summary,
  });
  return { record: promoted, previous, decision, comparison, forced };
}

/**
 * A challenger answers live requests (the canary share) and is shadowed: one with other inputs or of another city is
 * refused outright (409). A worse one may be a challenger: that is how it gets tested.
 */
export async function guardedSetChallenger(registry: ModelRegistry, version: string | null): Promise<void> {
  if (version !== null) {
    const record = await registry.get(version);
    if (!record) throw new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
    const championVersion = await registry.resolve('champion');
    const champion = championVersion ? await registry.get(championVersion) : undefined;
    if (champion && champion.version !== version) {
      const { compatibility } = await compareVersions(registry, record, champion);
      if (compatibility.problems.length > 0)
        throw new EtaError(
          'conflict',
          `${compatibility.problems.join('; ')}: refused as challenger (it would answer live requests)`,
          { field: 'version' },
        );
    }
  }
  await setChallenger(registry, version);
}

/** "challenger v7 MAE 8.8 min vs champion v3 4.7 min, 88% higher: refused (send force with a reason to override)" */
export function refusalMessage(decision: PolicyDecision, hint = 'send force with a reason'): string {
  const failed = decision.checks.filter((c) => !c.passed).map((c) => c.detail);
  return `${failed.join('; ')}: refused (${hint} to override)`;
}

/** Rollback with an audit entry; nothing to roll back is a 409 and is not logged (nothing happened). */
export async function auditedRollback(
  registry: ModelRegistry,
  actor: string,
  reason?: string,
): Promise<{ from: string; to: string }> {
  const moved = await rollback(registry);
  await registry.appendAudit({
    action: 'rollback',
    version: moved.to,
    previous: moved.from,
    actor,
    forced: false,
    reason: reason?.trim() || null,
    summary: `champion rolled back from ${moved.from} to ${moved.to}`,
  });
  return moved;
}

/**
 * Deletes versions (with their artifacts) past the retention: the champion, the challenger, the previous champions
 * rollback can reach and the newest `keepVersions` others stay. Returns what went; an audit entry says so.
 */
export async function applyRetention(
  registry: ModelRegistry,
  retention: Retention,
  actor: string,
): Promise<string[]> {
  const records = await registry.list();
  const keep = new Set<string>();
  for (const alias of ['champion', 'challenger'] as const) {
    const v = await registry.resolve(alias);
    if (v) keep.add(v);
  }
  for (const v of (await rollbackChain(registry)).slice(0, retention.keepPreviousChampions)) keep.add(v);
  let others = 0;
  const doomed: string[] = [];
  for (const r of records) {
    if (keep.has(r.version)) continue;
    if (others < retention.keepVersions) others++;
    else doomed.push(r.version);
  }
  const gone: string[] = [];
  for (const v of doomed) {
    try {
      await registry.remove(v);
      gone.push(v);
    } catch {
      // An alias moved onto it meanwhile: it stays, the next run looks again.
    }
  }
  if (gone.length > 0)
    await registry.appendAudit({
      action: 'retention',
      version: null,
      previous: null,
      actor,
      forced: false,
      reason: null,
      summary: `deleted ${gone.join(', ')} and their artifacts (retention: champion, challenger, ${retention.keepPreviousChampions} previous champions and the newest ${retention.keepVersions} others)`,
    });
  return gone;
}

/** Previous champions, most recent first, as `rollback` would visit them. */
async function rollbackChain(registry: ModelRegistry): Promise<string[]> {
  const { stack } = await championStack(registry);
  return stack.slice(0, -1).reverse();
}

export async function auditLog(registry: ModelRegistry, limit = 50): Promise<AuditEntry[]> {
  return registry.audit(limit);
}

async function modelOf(registry: ModelRegistry, version: string): Promise<Model | undefined> {
  const json = await registry.loadArtifact(version).catch(() => undefined);
  if (typeof json !== 'object' || json === null) return undefined;
  const { golden: _golden, ...artifact } = json as Record<string, unknown>;
  const loaded = loadModel(artifact);
  return loaded.ok ? loaded.value : undefined;
}

const featuresOf = (r: ModelRecord, m: Model | undefined): string[] =>
  r.domain?.features ?? m?.spec.map((s) => s.name) ?? [];
const domainOf = (r: ModelRecord): { domain?: NonNullable<ModelRecord['domain']> } =>
  r.domain ? { domain: r.domain } : {};
const sameInputs = (set: EvaluationSet, m: Model): boolean =>
  set.features.join(',') === m.spec.map((s) => s.name).join(',');
const zero = (version: string): ModelSide => ({ version, mae_s: Number.NaN });

function recordedSide(r: ModelRecord): ModelSide | undefined {
  const m = r.metrics;
  if (m.mae_s === undefined) return undefined;
  return {
    version: r.version,
    mae_s: m.mae_s,
    ...(m.coverage_p10_p90 !== undefined ? { coverage: m.coverage_p10_p90 } : {}),
    ...(m.bias_s !== undefined ? { bias_s: m.bias_s } : {}),
  };
}

/** MAE, p10–p90 coverage and bias of one model on an evaluation set. */
export function scoreOn(model: Model, version: string, set: EvaluationSet): ModelSide {
  const n = set.target.length;
  const nF = set.columns.length;
  const rows = new Float64Array(n * nF);
  for (let f = 0; f < nF; f++) {
    const col = set.columns[f]!;
    for (let i = 0; i < n; i++) rows[i * nF + f] = col[i] ?? Number.NaN;
  }
  const nOut = model.outputNames.length;
  const out = new Float64Array(n * nOut);
  model.predictBatch(rows, n, out);
  const at = (name: string): number => model.outputNames.indexOf(name);
  const mid = at('p50') >= 0 ? at('p50') : 0;
  const [p10, p90] = [at('p10'), at('p90')];
  let abs = 0;
  let signed = 0;
  let covered = 0;
  for (let i = 0; i < n; i++) {
    const y = set.target[i]!;
    const e = out[i * nOut + mid]! - y;
    abs += Math.abs(e);
    signed += e;
    if (p10 >= 0 && p90 >= 0 && y >= out[i * nOut + p10]! && y <= out[i * nOut + p90]!) covered++;
  }
  return {
    version,
    mae_s: abs / Math.max(1, n),
    bias_s: signed / Math.max(1, n),
    ...(p10 >= 0 && p90 >= 0 ? { coverage: covered / Math.max(1, n) } : {}),
  };
}
