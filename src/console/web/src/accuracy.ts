/**
 * The prediction-versus-actual join as the admin API returns it (`GET /v1/admin/accuracy`). Read loosely, like
 * the models: the arrays are found by their usual names, the fields in snake_case or camelCase.
 */
type Json = Record<string, unknown>;

export interface AccuracyWindow {
  t: number;
  version: string;
  mae: number | null;
  bias: number | null;
  n: number | null;
}

export interface Pair {
  predicted: number;
  actual: number;
  version: string;
}

const num = (...vs: unknown[]): number | null => {
  for (const v of vs) if (typeof v === 'number' && Number.isFinite(v)) return v;
  return null;
};

function arrayOf(body: Json, ...names: string[]): Json[] {
  for (const n of names) if (Array.isArray(body[n])) return body[n] as Json[];
  return [];
}

function time(v: unknown): number | null {
  if (typeof v === 'number') return v > 1e12 ? v / 1000 : v;
  if (typeof v === 'string') {
    // An hour bucket, `2026-01-05T12`, is UTC.
    const t = Date.parse(/^\d{4}-\d{2}-\d{2}T\d{2}$/.test(v) ? `${v}:00:00Z` : v);
    return Number.isNaN(t) ? null : t / 1000;
  }
  return null;
}

export function accuracyWindows(body: Json): AccuracyWindow[] {
  const out: AccuracyWindow[] = [];
  for (const w of arrayOf(body, 'windows', 'series', 'timeline', 'by_hour', 'buckets', 'over_time')) {
    const t = time(w.t ?? w.at ?? w.time ?? w.hour ?? w.bucket ?? w.window_start ?? w.from ?? w.start);
    if (t === null) continue;
    out.push({
      t,
      version: String(w.model_version ?? w.version ?? w.modelVersion ?? 'all'),
      mae: num(w.mae_s, w.mae_seconds, w.mae),
      bias: num(w.bias_s, w.bias_seconds, w.bias),
      n: num(w.deliveries, w.n, w.count, w.orders),
    });
  }
  return out.sort((a, b) => a.t - b.t);
}

export function accuracyPairs(body: Json): Pair[] {
  const out: Pair[] = [];
  for (const p of arrayOf(body, 'pairs', 'samples', 'recent', 'points', 'orders')) {
    const predicted = num(p.predicted_s, p.predicted, p.eta_seconds, p.eta_s, p.predicted_seconds);
    const actual = num(p.actual_s, p.actual, p.actual_seconds, p.delivered_seconds);
    if (predicted === null || actual === null) continue;
    out.push({ predicted, actual, version: String(p.model_version ?? p.version ?? 'all') });
  }
  return out;
}

/** Totals per version: the latest MAE, bias and count when the response carries them. */
export function accuracyByVersion(body: Json): Array<{
  version: string;
  mae: number | null;
  bias: number | null;
  n: number | null;
  coverage: number | null;
}> {
  const list = arrayOf(body, 'by_model_version', 'versions', 'by_version', 'models');
  return list.map((v) => ({
    version: String(v.model_version ?? v.version ?? 'all'),
    mae: num(v.mae_s, v.mae_seconds, v.mae),
    bias: num(v.bias_s, v.bias_seconds, v.bias),
    n: num(v.deliveries, v.n, v.count, v.orders),
    coverage: num(v.coverage_ratio, v.coverage_p10_p90, v.coverage),
  }));
}

/** Error by zone (H3 cells of the destination), largest first. */
export function accuracyByZone(
  body: Json,
): Array<{ zone: string; mae: number | null; bias: number | null; n: number | null }> {
  return arrayOf(body, 'by_zone', 'zones')
    .map((z) => ({
      zone: String(z.zone ?? z.cell ?? ''),
      mae: num(z.mae_s, z.mae_seconds, z.mae),
      bias: num(z.bias_s, z.bias_seconds, z.bias),
      n: num(z.deliveries, z.n, z.count),
    }))
    .sort((a, b) => (b.n ?? 0) - (a.n ?? 0));
}

/** A zone whose kitchens changed: the server's per-zone prep check (`zone_alarms` of the accuracy summary). */
export interface ZoneAlarm {
  zone: string;
  orders: number | null;
  baselinePrepS: number | null;
  recentPrepS: number | null;
  message: string;
}

export function zoneAlarmsOf(body: Json | null | undefined): ZoneAlarm[] {
  const v = body?.zone_alarms;
  if (!Array.isArray(v)) return [];
  return (v as Json[]).map((a) => ({
    zone: String(a.zone),
    orders: num(a.orders),
    baselinePrepS: num(a.baseline_prep_s),
    recentPrepS: num(a.recent_prep_s),
    message: String(a.message ?? ''),
  }));
}

/** One feature's drift: its PSI and, from servers that judge it, a verdict and the sample counts behind it. */
export interface DriftFigure {
  psi: number | null;
  status?: 'ok' | 'drift' | 'insufficient';
  samples?: number;
  minSamples?: number;
}

function figure(v: unknown): DriftFigure | null {
  if (typeof v === 'number') return Number.isFinite(v) ? { psi: v } : null;
  if (!v || typeof v !== 'object') return null;
  const e = v as Json;
  const out: DriftFigure = { psi: num(e.psi, e.value) };
  if (e.status === 'ok' || e.status === 'drift' || e.status === 'insufficient') out.status = e.status;
  const samples = num(e.samples, e.n);
  const min = num(e.min_samples, e.minSamples);
  if (samples !== null) out.samples = samples;
  if (min !== null) out.minSamples = min;
  return out.psi === null && out.status === undefined ? null : out;
}

/**
 * Drift per feature from any of the shapes a payload may carry: `{feature: psi}`, `{feature: {psi, status,
 * samples, min_samples}}`, or an array of `{feature, ...}`, under `psi`, `drift` or `drift.features`.
 */
export function driftOf(body: Json | null | undefined): Record<string, DriftFigure> {
  const out: Record<string, DriftFigure> = {};
  if (!body) return out;
  for (const key of ['psi', 'drift']) {
    let v = body[key];
    if (v && typeof v === 'object' && !Array.isArray(v) && 'features' in v) v = (v as Json).features;
    if (Array.isArray(v)) {
      for (const e of v as Json[]) {
        const f = figure(e);
        if (f) out[String(e.feature ?? e.name)] = f;
      }
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const f = figure(x);
        if (f) out[k] = f;
      }
    }
  }
  return out;
}

/** Coverage of the served ranges in one segment (zone, daypart): `by_segment` of the accuracy summary. */
export interface SegmentCoverage {
  version: string;
  zone: string;
  daypart: string;
  outcomes: number;
  coverage: number | null;
  staticFactor: number | null;
  multiplier: number | null;
}

/** Busiest segments first, as the server sends them. */
export function segmentCoverageOf(body: Json | null | undefined): SegmentCoverage[] {
  const v = body?.by_segment;
  if (!Array.isArray(v)) return [];
  return (v as Json[]).map((s) => ({
    version: String(s.model_version ?? ''),
    zone: String(s.zone ?? ''),
    daypart: String(s.daypart ?? ''),
    outcomes: num(s.outcomes) ?? 0,
    coverage: num(s.coverage_ratio),
    staticFactor: num(s.static_factor),
    multiplier: num(s.multiplier),
  }));
}
