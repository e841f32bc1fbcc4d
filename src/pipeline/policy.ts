import type { PolicyConfig } from './config.js';

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
  /** One line: the decision and the rule that made it. */
  summary: string;
  checks: PolicyCheck[];
  at: string;
}

/**
 * Decides whether a candidate replaces the champion. Both were scored on the same hold-out rows; shadow results,
 * when there are enough, must not say the candidate is worse on live traffic. No champion: promote.
 */
export function decidePromotion(
  policy: PolicyConfig,
  candidate: Record<string, number>,
  champion: Record<string, number> | undefined,
  shadow?: ShadowSummary,
): PolicyDecision {
  const at = new Date().toISOString();
  if (!champion) {
    return { promote: true, summary: 'promote: there is no champion', checks: [], at };
  }
  const checks: PolicyCheck[] = [];
  const cand = candidate.mae_s!;
  const champ = champion.mae_s!;
  const improvement = (champ - cand) / champ;
  checks.push({
    rule: `hold-out MAE at least ${(policy.minImprovement * 100).toFixed(1)}% better`,
    passed: improvement >= policy.minImprovement,
    detail: `candidate ${cand.toFixed(1)} s vs champion ${champ.toFixed(1)} s: ${(improvement * 100).toFixed(2)}% better`,
  });
  const cc = candidate.coverage_p10_p90;
  const hc = champion.coverage_p10_p90;
  if (cc !== undefined && hc !== undefined) {
    checks.push({
      rule: `p10–p90 coverage at most ${(policy.maxCoverageDrop * 100).toFixed(1)} points below the champion’s`,
      passed: cc >= hc - policy.maxCoverageDrop,
      detail: `candidate ${(cc * 100).toFixed(1)}% vs champion ${(hc * 100).toFixed(1)}%`,
    });
  }
  if (shadow && shadow.samples >= policy.minShadowSamples && policy.minShadowSamples > 0) {
    const ratio = shadow.challengerMaeS / shadow.championMaeS;
    checks.push({
      rule: `shadow MAE no worse than ${policy.maxShadowMaeRatio}× the champion’s`,
      passed: ratio <= policy.maxShadowMaeRatio,
      detail: `${shadow.samples} shadowed orders: challenger ${shadow.challengerMaeS.toFixed(1)} s vs champion ${shadow.championMaeS.toFixed(1)} s (ratio ${ratio.toFixed(3)})`,
    });
  } else {
    checks.push({
      rule: 'shadow MAE no worse than the champion’s',
      passed: true,
      detail: `skipped: ${shadow?.samples ?? 0} shadowed orders, fewer than ${policy.minShadowSamples}`,
    });
  }
  const failed = checks.find((c) => !c.passed);
  return {
    promote: failed === undefined,
    summary: failed
      ? `keep the champion: failed "${failed.rule}" (${failed.detail})`
      : `promote: ${checks[0]!.detail}`,
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
