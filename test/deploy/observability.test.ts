import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { requireBinary } from '../support/binaries.js';
import { ROOT } from './manifests.js';

const OBS = path.join(ROOT, 'deploy/observability');

/** Metrics etaserve exports (or will: the names agreed for the cache, breaker and model work). */
const ETASERVE_METRICS = [
  'etaserve_http_request_duration_seconds',
  'etaserve_breaker_state',
  'etaserve_model_info',
  'etaserve_online_mae_seconds',
  'etaserve_feature_psi',
  'etaserve_cache_requests_total',
  'etaserve_degraded_responses_total',
];
/** kube-state-metrics series the dashboards and alerts may also use. */
const KSM_METRICS = [
  'kube_cronjob_status_last_successful_time',
  'kube_deployment_status_replicas_available',
  'kube_horizontalpodautoscaler_spec_min_replicas',
];

/** Metric names in a PromQL expression: etaserve_* and kube_* identifiers (not recording rules, which have colons). */
function metricNames(expr: string): string[] {
  const names = expr.match(/(?<![\w:])(?:etaserve|kube)_[a-z0-9_]+(?![\w:])/g) ?? [];
  return names.map((n) => n.replace(/_(bucket|sum|count)$/, ''));
}
const known = (n: string): boolean => ETASERVE_METRICS.includes(n) || KSM_METRICS.includes(n);

describe('Prometheus alert rules', () => {
  const promtool = requireBinary('promtool', 'the Prometheus rule checks');

  it.skipIf(!promtool)('load in promtool check rules', () => {
    const out = execFileSync(promtool!, ['check', 'rules', path.join(OBS, 'alerts.yaml')], {
      encoding: 'utf8',
    });
    expect(out).toMatch(/SUCCESS/);
  });

  it.skipIf(!promtool)('behave as their unit tests say (promtool test rules)', () => {
    const out = execFileSync(promtool!, ['test', 'rules', 'alerts.test.yaml'], {
      cwd: OBS,
      encoding: 'utf8',
    });
    expect(out).toMatch(/SUCCESS/);
  });

  it('cover latency burn, errors, breakers, model staleness and drift, and online MAE, on known metrics', () => {
    const file = parseYaml(readFileSync(path.join(OBS, 'alerts.yaml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }>;
    };
    const rules = file.groups.flatMap((g) => g.rules);
    const alerts = rules.filter((r) => r.alert).map((r) => r.alert);
    for (const a of [
      'EtaserveLatencySLOFastBurn',
      'EtaserveLatencySLOSlowBurn',
      'EtaserveHighErrorRate',
      'EtaserveBreakerOpen',
      'EtaserveModelStale',
      'EtaserveFeatureDrift',
      'EtaserveOnlineMAEUp',
    ]) {
      expect(alerts).toContain(a);
    }
    const unknown = rules.flatMap((r) => metricNames(r.expr)).filter((n) => !known(n));
    expect(unknown).toEqual([]);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(path.join(OBS, 'grafana-dashboard.json'), 'utf8')) as {
    title: string;
    uid: string;
    panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
  };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

  it('parses, and every panel queries something', () => {
    expect(dashboard.uid).toBeTruthy();
    for (const p of dashboard.panels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
  });

  it('references only metric names that exist', () => {
    const unknown = exprs.flatMap(metricNames).filter((n) => !known(n));
    expect(unknown).toEqual([]);
  });

  it('shows latency p50/p95/p99 per route, RPS, cache hits per level, breakers, degraded answers, models, MAE and PSI', () => {
    for (const q of ['0.5', '0.95', '0.99']) {
      expect(exprs.some((e) => e.includes(`histogram_quantile(${q}`) && e.includes('by (le, route)'))).toBe(
        true,
      );
    }
    const uses = (m: string): boolean => exprs.some((e) => metricNames(e).includes(m));
    for (const m of ETASERVE_METRICS) expect(uses(m), m).toBe(true);
    expect(exprs.some((e) => e.includes('etaserve_cache_requests_total') && e.includes('by (level)'))).toBe(
      true,
    );
  });
});
