import type { ModelDomain } from '../../registry/index.js';
import type { PolicyConfig } from '../config.js';

/** Online comparison of challenger and champion on the same live requests, from the shadow join. */
export interface ShadowSummary {
  samples: number;
  championMaeS: number;
  challengerMaeS: number;
}

export interface PolicyCheck {
  rule: string;
  passed: boolean;
  /** The numbers the rule compared, so a person can redo the arithmetic. */
  detail: string;
}

export interface PolicyDecision {
  promote: boolean;
  /** One line: the decision and the rule that made it, in plain words. */
  summary: string;
  checks: PolicyCheck[];
  at: string;
}

/** One model's figures on the comparison rows. */
export interface ModelSide {
  version: string;
  mae_s: number;
  /** Share of actual times inside p10–p90. */
  coverage?: number;
  /** Mean of predicted − actual, seconds: positive quotes late. */
  bias_s?: number;
}

/**
 * Champion and challenger side by side. `same-rows`: both scored on the same recent hold-out rows (the fair
 * comparison); `recorded`: each one's own hold-out metrics from its registration (different rows: a hint only).
 */
export interface Comparison {
  basis: 'same-rows' | 'recorded' | 'none';
  rows: number;
  window?: { fromMs: number; toMs: number };
  challenger: ModelSide;
  champion?: ModelSide;
}

/** Whether two models answer the same question: the same inputs, trained on the same city. */
export interface Compatibility {
  /** Each a reason to refuse. */
  problems: string[];
  /** Leniencies said out loud (an entry from before domains were recorded). */
  notes: string[];
}

export interface DomainSide {
  version: string;
  features: readonly string[];
  domain?: ModelDomain;
}

/** How far apart two stores' areas may be and still be one city (degrees; about 20 km). */
const AREA_MARGIN_DEG = 0.2;

export function checkCompatibility(challenger: DomainSide, champion: DomainSide): Compatibility {
  const problems: string[] = [];
  const notes: string[] = [];
  const a = challenger.features.join(',');
  const b = champion.features.join(',');
  if (a !== b) {
    const missing = champion.features.filter((f) => !challenger.features.includes(f));
    const extra = challenger.features.filter((f) => !champion.features.includes(f));
    problems.push(
      `features differ: challenger ${challenger.version} has ${challenger.features.length} inputs, champion ${champion.version} ${champion.features.length}` +
        (missing.length ? `; missing ${missing.join(', ')}` : '') +
        (extra.length ? `; extra ${extra.join(', ')}` : '') +
        (!missing.length && !extra.length ? '; same names in another order' : ''),
    );
  }
  const x = challenger.domain;
  const y = champion.domain;
  if (!x || !y) {
    for (const side of [challenger, champion])
      if (!side.domain)
        notes.push(
          `${side.version} records no training domain (registered before domains were): its city was not checked`,
        );
    return { problems, notes };
  }
  if (x.timezones.length && y.timezones.length && !x.timezones.some((t) => y.timezones.includes(t)))
    problems.push(
      `trained in another timezone: challenger ${challenger.version} ${x.timezones.join(', ')}, champion ${champion.version} ${y.timezones.join(', ')}`,
    );
  if (x.bbox && y.bbox && !overlaps(x.bbox, y.bbox))
    problems.push(
      `trained in another area: challenger ${challenger.version} stores around ${centre(x.bbox)}, champion ${champion.version} around ${centre(y.bbox)}`,
    );
  if (x.storeIds.length && y.storeIds.length) {
    const theirs = new Set(y.storeIds);
    if (!x.storeIds.some((id) => theirs.has(id)))
      problems.push(
        `trained on other stores: challenger ${challenger.version} shares none of champion ${champion.version}'s ${y.stores} store ids`,
      );
  }
  return { problems, notes };
}

type Box = NonNullable<ModelDomain['bbox']>;
const overlaps = (a: Box, b: Box): boolean =>
  a.minLat <= b.maxLat + AREA_MARGIN_DEG &&
  b.minLat <= a.maxLat + AREA_MARGIN_DEG &&
  a.minLng <= b.maxLng + AREA_MARGIN_DEG &&
  b.minLng <= a.maxLng + AREA_MARGIN_DEG;
const centre = (b: Box): string =>
  `${((b.minLat + b.maxLat) / 2).toFixed(2)},${((b.minLng + b.maxLng) / 2).toFixed(2)}`;

export const minutes = (s: number): string => `${(s / 60).toFixed(1)} min`;

/** "88% higher", "13% lower", "the same": relative to the champion, never a negative "better". */
export function relative(challenger: number, champion: number): string {
  if (!(champion > 0)) return challenger === champion ? 'the same' : 'not comparable';
  const r = (challenger - champion) / champion;
  const p = Math.abs(r) * 100;
  const text = p >= 10 ? p.toFixed(0) : p.toFixed(1);
  if (text === '0.0') return 'the same';
  return `${text}% ${r > 0 ? 'higher' : 'lower'}`;
}

/** "challenger v7 MAE 8.8 min vs champion v3 4.7 min, 88% higher" */
export function describeMae(c: Comparison): string {
  if (!c.champion)
    return `challenger ${c.challenger.version} MAE ${minutes(c.challenger.mae_s)}; no champion`;
  return `challenger ${c.challenger.version} MAE ${minutes(c.challenger.mae_s)} vs champion ${c.champion.version} ${minutes(c.champion.mae_s)}, ${relative(c.challenger.mae_s, c.champion.mae_s)}`;
}

/** Side by side, one line per figure, for reports and the audit log. */
export function describeComparison(c: Comparison): string {
  if (!c.champion)
    return `${c.challenger.version} MAE ${Number.isFinite(c.challenger.mae_s) ? minutes(c.challenger.mae_s) : 'unknown'}${c.rows ? ` on ${c.rows} hold-out orders` : ''}; no champion to compare with`;
  const basis =
    c.basis === 'same-rows'
      ? `both scored on the same ${c.rows} recent hold-out orders${c.window ? ` (${new Date(c.window.fromMs).toISOString().slice(0, 16)}Z to ${new Date(c.window.toMs).toISOString().slice(0, 16)}Z)` : ''}`
      : c.basis === 'recorded'
        ? 'each on its own hold-out at registration (not the same orders: no common rows to score both on)'
        : 'no hold-out figures to compare';
  const pct = (v: number | undefined): string => (v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);
  const bias = (v: number | undefined): string =>
    v === undefined ? '-' : `${v >= 0 ? '+' : '−'}${minutes(Math.abs(v))} (${v >= 0 ? 'late' : 'early'})`;
  const parts = [describeMae(c)];
  if (c.champion) {
    parts.push(`p10–p90 coverage ${pct(c.challenger.coverage)} vs ${pct(c.champion.coverage)}`);
    parts.push(`bias ${bias(c.challenger.bias_s)} vs ${bias(c.champion.bias_s)}`);
  }
  return `${parts.join('; ')}; ${basis}`;
}

/**
 * The one promotion policy: the schedule and `train` (mode `auto`), and a person through the API, the CLI or the
 * console (mode `manual`). Both refuse a challenger that answers another question (features, city) or does worse
 * than the champion on the same rows; `auto` also wants a clear improvement and no worse live (shadow) results.
 */
export function judgePromotion(
  policy: PolicyConfig,
  mode: 'auto' | 'manual',
  comparison: Comparison,
  compatibility: Compatibility,
  shadow?: ShadowSummary,
): PolicyDecision {
  const at = new Date().toISOString();
  const { champion, challenger } = comparison;
  if (!champion && compatibility.problems.length === 0)
    return { promote: true, summary: 'promote: there is no champion', checks: [], at };
  const checks: PolicyCheck[] = [];
  checks.push({
    rule: 'same features and training domain as the champion',
    passed: compatibility.problems.length === 0,
    detail: [...compatibility.problems, ...compatibility.notes].join('; ') || 'same',
  });
  if (champion && comparison.basis !== 'none') {
    if (mode === 'auto') {
      const improvement = (champion.mae_s - challenger.mae_s) / champion.mae_s;
      checks.push({
        rule: `MAE at least ${(policy.minImprovement * 100).toFixed(1)}% lower than the champion's`,
        passed: improvement >= policy.minImprovement,
        detail: describeMae(comparison),
      });
    } else {
      checks.push({
        rule: 'MAE no higher than the champion’s',
        passed: challenger.mae_s <= champion.mae_s,
        detail: describeMae(comparison),
      });
    }
    const cc = challenger.coverage;
    const hc = champion.coverage;
    if (cc !== undefined && hc !== undefined)
      checks.push({
        rule: `p10–p90 coverage at most ${(policy.maxCoverageDrop * 100).toFixed(1)} points below the champion’s`,
        passed: cc >= hc - policy.maxCoverageDrop,
        detail: `challenger ${(cc * 100).toFixed(1)}% vs champion ${(hc * 100).toFixed(1)}%`,
      });
  } else if (champion) {
    checks.push({
      rule: 'MAE no higher than the champion’s',
      passed: true,
      detail: `not checked: neither ${challenger.version} nor ${champion.version} has hold-out figures`,
    });
  }
  if (mode === 'auto') {
    if (shadow && shadow.samples >= policy.minShadowSamples && policy.minShadowSamples > 0) {
      const ratio = shadow.challengerMaeS / shadow.championMaeS;
      checks.push({
        rule: `live (shadow) MAE no worse than ${policy.maxShadowMaeRatio}× the champion’s`,
        passed: ratio <= policy.maxShadowMaeRatio,
        detail: `${shadow.samples} shadowed orders: challenger ${minutes(shadow.challengerMaeS)} vs champion ${minutes(shadow.championMaeS)}, ${relative(shadow.challengerMaeS, shadow.championMaeS)}`,
      });
    } else {
      checks.push({
        rule: 'live (shadow) MAE no worse than the champion’s',
        passed: true,
        detail: `skipped: ${shadow?.samples ?? 0} shadowed orders, fewer than ${policy.minShadowSamples}`,
      });
    }
  }
  const failed = checks.find((c) => !c.passed);
  const basis = comparison.basis === 'recorded' ? ' (recorded hold-out figures, not the same orders)' : '';
  return {
    promote: failed === undefined,
    summary: failed
      ? `keep the champion: ${failed.detail} (rule: ${failed.rule})${basis}`
      : `promote: ${champion ? describeMae(comparison) : 'there is no champion'}${basis}`,
    checks,
    at,
  };
}

/**
 * The live comparison the policy's shadow rule reads, from the accuracy join: the online MAE of the orders each
 * version answered (the challenger answers the canary share). Undefined until both have delivered orders.
 */
export function liveComparison(
  byVersion: ReadonlyArray<{ model_version: string; deliveries: number; mae_seconds: number | null }>,
  champion: string | undefined,
  challenger: string | undefined,
): ShadowSummary | undefined {
  const a = byVersion.find((v) => v.model_version === champion);
  const b = byVersion.find((v) => v.model_version === challenger);
  if (!a || !b || a.mae_seconds === null || b.mae_seconds === null) return undefined;
  return { samples: b.deliveries, championMaeS: a.mae_seconds, challengerMaeS: b.mae_seconds };
}
