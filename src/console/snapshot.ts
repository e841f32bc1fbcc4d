import type { Buckets } from './quantiles.js';
import { bucketQuantile } from './quantiles.js';
import { seriesKey, type Sample } from './samples.js';

/** One second of the platform, as the console draws it. Latencies in milliseconds, rates per second. */
export interface LivePoint {
  t: number;
  rps: number;
  routes: Record<string, { rps: number; p50: number | null; p95: number | null; p99: number | null }>;
  /** `cache level` -> share of lookups answered (hit or stale) and lookups per second. */
  cache: Record<string, { hit_ratio: number | null; rps: number }>;
  /** replica -> closed | open | half_open */
  breakers: Record<string, string>;
  degraded_per_s: number;
  events_per_s: number;
  model_versions: string[];
  /** feature -> population stability index against the training data */
  psi: Record<string, number>;
  /**
   * feature -> the drift monitor's verdict (its `etaserve_feature_drift_*` gauges), when it publishes them: psi is
   * null while the window holds fewer than min_samples rows (status insufficient)
   */
  drift?: Record<
    string,
    {
      psi: number | null;
      status: 'ok' | 'drift' | 'insufficient';
      samples: number | null;
      min_samples: number | null;
    }
  >;
  /** model version -> online error of delivered orders (the accuracy projection's gauges) */
  online: Record<string, { mae_s: number | null; bias_s: number | null }>;
  /**
   * challenger -> live requests it also scored (shadow) since this process started, per second now, and the
   * median and p90 of |challenger p50 - champion p50| on those requests
   */
  shadow: Record<
    string,
    { scored: number; per_s: number; diff_p50_s: number | null; diff_p90_s: number | null }
  >;
  /** alias -> share of prediction batches it served over the rate window (a canary moves this) */
  served_by: Record<string, number>;
}

/** Cumulative values by series key at one instant. */
export type Scrape = Map<string, Sample>;

export function toScrape(samples: Sample[]): Scrape {
  const scrape: Scrape = new Map();
  for (const s of samples) scrape.set(seriesKey(s), s);
  return scrape;
}

/** Increase since `before`; a counter that went down belongs to a restarted process and counts from zero. */
function increases(now: Scrape, before: Scrape): Sample[] {
  const out: Sample[] = [];
  for (const [key, s] of now) {
    const prev = before.get(key)?.value ?? 0;
    out.push({ ...s, value: s.value >= prev ? s.value - prev : s.value });
  }
  return out;
}

const HTTP = 'etaserve_http_request_duration_seconds';
/** The console's own traffic would otherwise be the busiest route on an idle platform. */
const QUIET_ROUTES = new Set(['/v1/admin/stream', '/v1/admin/live']);

function isApiRoute(route: string | undefined): route is string {
  return (
    route !== undefined &&
    (route.startsWith('/v1/') || route.startsWith('/internal/')) &&
    !QUIET_ROUTES.has(route)
  );
}

const EVENT_COUNTERS = /^etaserve_events?_(ingested|accepted|appended|written)(_events)?_total$/;
const DEGRADED_COUNTERS = new Set(['etaserve_degraded_responses_total']);
const BREAKER_CODES = ['closed', 'half_open', 'open'];

function breakerStates(now: Scrape): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of now.values()) {
    if (!s.name.includes('breaker') || !s.name.endsWith('state')) continue;
    const replica =
      s.labels.replica ?? s.labels.upstream ?? s.labels.instance ?? s.labels.target ?? 'default';
    // Either one series per state set to 1, or one series holding a state code.
    if (s.labels.state !== undefined) {
      if (s.value === 1) out[replica] = s.labels.state;
    } else out[replica] = BREAKER_CODES[s.value] ?? String(s.value);
  }
  return out;
}

/**
 * A point from three scrapes: now, `rateWindowS` seconds ago (rates) and `quantileWindowS` seconds ago
 * (latency quantiles, a longer window so that a quiet route still has observations).
 */
export function computePoint(
  t: number,
  now: Scrape,
  rateBase: { scrape: Scrape; seconds: number } | undefined,
  quantileBase: Scrape | undefined,
): LivePoint {
  const rateSeconds = rateBase?.seconds ?? 1;
  // Without an earlier scrape there is no rate yet: everything counted so far happened before the console looked.
  const rated = increases(now, rateBase?.scrape ?? now);
  const windowed = increases(now, quantileBase ?? now);

  const routes: LivePoint['routes'] = {};
  const counts = new Map<string, number>();
  for (const s of rated) {
    if (s.name === `${HTTP}_count` && isApiRoute(s.labels.route)) {
      counts.set(s.labels.route, (counts.get(s.labels.route) ?? 0) + s.value);
    }
  }
  const buckets = new Map<string, Buckets>();
  for (const s of windowed) {
    if (s.name !== `${HTTP}_bucket` || !isApiRoute(s.labels.route)) continue;
    const b = buckets.get(s.labels.route) ?? new Map<number, number>();
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    b.set(le, (b.get(le) ?? 0) + s.value);
    buckets.set(s.labels.route, b);
  }
  let rps = 0;
  for (const route of new Set([...counts.keys(), ...buckets.keys()])) {
    const r = (counts.get(route) ?? 0) / rateSeconds;
    const b = buckets.get(route) ?? new Map<number, number>();
    const ms = (q: number): number | null => {
      const v = bucketQuantile(q, b);
      return v === null ? null : Math.round(v * 1e5) / 100;
    };
    routes[route] = { rps: round2(r), p50: ms(0.5), p95: ms(0.95), p99: ms(0.99) };
    if (!route.startsWith('/internal/')) rps += r;
  }

  const lookups = new Map<string, { hit: number; total: number }>();
  for (const s of rated) {
    if (s.name !== 'etaserve_cache_requests_total') continue;
    const key = `${s.labels.cache ?? 'cache'} ${s.labels.level ?? ''}`.trim();
    const acc = lookups.get(key) ?? { hit: 0, total: 0 };
    acc.total += s.value;
    if (s.labels.result === 'hit' || s.labels.result === 'stale') acc.hit += s.value;
    lookups.set(key, acc);
  }
  const cache: LivePoint['cache'] = {};
  for (const [key, { hit, total }] of lookups) {
    cache[key] = { hit_ratio: total > 0 ? round4(hit / total) : null, rps: round2(total / rateSeconds) };
  }

  let degraded = 0;
  let events = 0;
  for (const s of rated) {
    if (DEGRADED_COUNTERS.has(s.name)) degraded += s.value;
    else if (
      EVENT_COUNTERS.test(s.name) &&
      (s.labels.result === undefined || s.labels.result === 'accepted')
    ) {
      events += s.value;
    }
  }

  const versions = new Set<string>();
  const psi: Record<string, number> = {};
  const online: LivePoint['online'] = {};
  for (const s of now.values()) {
    const version = s.labels.model_version;
    if (version && (s.name === 'etaserve_online_mae_seconds' || s.name === 'etaserve_online_bias_seconds')) {
      const o = (online[version] ??= { mae_s: null, bias_s: null });
      if (s.name === 'etaserve_online_mae_seconds') o.mae_s = round2(s.value);
      else o.bias_s = round2(s.value);
    }
    if (s.name === 'etaserve_model_info' && s.value === 1 && s.labels.version) versions.add(s.labels.version);
    if (s.name === 'etaserve_feature_psi' && s.labels.feature) psi[s.labels.feature] = round4(s.value);
  }
  // One pass over the scrape: the verdict, the sample count per feature, and the shared minimum.
  const drift: NonNullable<LivePoint['drift']> = {};
  const samples = new Map<string, number>();
  let minSamples: number | null = null;
  for (const s of now.values()) {
    const { feature, status } = s.labels;
    if (s.name === 'etaserve_feature_drift_min_samples') minSamples = s.value;
    else if (s.name === 'etaserve_feature_drift_samples' && feature) samples.set(feature, s.value);
    else if (s.name === 'etaserve_feature_drift_status' && s.value === 1 && feature)
      if (status === 'ok' || status === 'drift' || status === 'insufficient')
        drift[feature] = { psi: psi[feature] ?? null, status, samples: null, min_samples: null };
  }
  for (const [feature, d] of Object.entries(drift)) {
    d.samples = samples.get(feature) ?? null;
    d.min_samples = minSamples;
  }

  return {
    ...rolloutOf(now, rated, rateSeconds),
    t,
    rps: round2(rps),
    routes,
    cache,
    breakers: breakerStates(now),
    degraded_per_s: round2(degraded / rateSeconds),
    events_per_s: round2(events / rateSeconds),
    model_versions: [...versions].sort(),
    psi,
    ...(Object.keys(drift).length > 0 ? { drift } : {}),
    online,
  };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/** Shadow scoring and canary serving, from the predictor's rollout metrics. */
function rolloutOf(
  now: Scrape,
  rated: Sample[],
  rateSeconds: number,
): Pick<LivePoint, 'shadow' | 'served_by'> {
  const shadow: LivePoint['shadow'] = {};
  const diffs = new Map<string, Buckets>();
  for (const s of now.values()) {
    const challenger = s.labels.challenger;
    if (!challenger) continue;
    if (s.name === 'etaserve_shadow_predictions_total') {
      (shadow[challenger] ??= { scored: 0, per_s: 0, diff_p50_s: null, diff_p90_s: null }).scored += s.value;
    } else if (s.name === 'etaserve_shadow_p50_difference_seconds_bucket') {
      const b = diffs.get(challenger) ?? new Map<number, number>();
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      b.set(le, (b.get(le) ?? 0) + s.value);
      diffs.set(challenger, b);
    }
  }
  for (const s of rated) {
    const entry = s.labels.challenger ? shadow[s.labels.challenger] : undefined;
    if (entry && s.name === 'etaserve_shadow_predictions_total')
      entry.per_s = round2(entry.per_s + s.value / rateSeconds);
  }
  for (const [challenger, b] of diffs) {
    const entry = shadow[challenger];
    if (!entry) continue;
    const q = (x: number): number | null => {
      const v = bucketQuantile(x, b);
      return v === null ? null : Math.round(v);
    };
    entry.diff_p50_s = q(0.5);
    entry.diff_p90_s = q(0.9);
  }
  const served = new Map<string, number>();
  let total = 0;
  for (const s of rated) {
    if (s.name !== 'etaserve_predictions_by_alias_total' || !s.labels.alias) continue;
    served.set(s.labels.alias, (served.get(s.labels.alias) ?? 0) + s.value);
    total += s.value;
  }
  const served_by: Record<string, number> = {};
  for (const [alias, n] of served) if (total > 0) served_by[alias] = round4(n / total);
  return { shadow, served_by };
}
