/**
 * The model registry as the admin API returns it (src/gateway/admin-models-routes.ts). Read loosely: fields are
 * accepted in snake_case or camelCase, and what is absent is simply not drawn.
 */
export interface ModelVersion {
  version: string;
  createdAt: string;
  source: string;
  aliases: string[];
  metrics: Record<string, number>;
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;

const str = (v: unknown): string =>
  typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);

export function numbers(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) if (typeof x === 'number') out[k] = x;
  return out;
}

export function toModelVersion(j: Json): ModelVersion {
  return {
    version: str(j.version),
    createdAt: str(j.created_at ?? j.createdAt),
    source: str(j.source),
    aliases: Array.isArray(j.aliases) ? j.aliases.map(str) : [],
    metrics: numbers(j.metrics ?? j.holdout ?? j.evaluation),
    raw: j,
  };
}

export function toModelList(body: unknown): ModelVersion[] {
  const list = Array.isArray(body) ? body : ((body as Json)?.models ?? (body as Json)?.versions ?? []);
  return (list as Json[]).map(toModelVersion);
}

/** A nested object of the detail by any of its usual names. */
export function section(detail: Json | undefined, ...names: string[]): Json | undefined {
  for (const n of names) {
    const v = detail?.[n];
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Json;
  }
  return undefined;
}

/** Mean absolute error by hour of day, when the detail carries it: [{hour, mae_s}] or {"0": 123, ...}. */
export function errorByHour(detail: Json | undefined): Array<[number, number]> {
  const v =
    detail?.error_by_hour ??
    detail?.errorByHour ??
    detail?.by_hour ??
    section(detail, 'online', 'evaluation')?.by_hour;
  const out: Array<[number, number]> = [];
  if (Array.isArray(v)) {
    for (const e of v as Json[]) {
      const h = Number(e.hour);
      const m = Number(e.mae_s ?? e.mae ?? e.value) / 60;
      if (Number.isFinite(h) && Number.isFinite(m)) out.push([h, m]);
    }
  } else if (v && typeof v === 'object') {
    for (const [k, m] of Object.entries(v)) if (typeof m === 'number') out.push([Number(k), m / 60]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

export const METRIC_LABELS: Record<string, string> = {
  mae_s: 'MAE',
  rmse_s: 'RMSE',
  within_5min: 'within ±5 min',
  within_10min: 'within ±10 min',
  coverage_p10_p90: 'p10–p90 coverage',
  width_p10_p90_s: 'range width',
  n_test: 'hold-out rows',
  online_mae_s: 'online MAE',
  bias_s: 'online bias',
  coverage_online: 'online p10–p90 coverage',
  deliveries: 'delivered orders',
};

export function formatMetric(name: string, v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (name.endsWith('_s')) return `${(v / 60).toFixed(2)} min`;
  if (
    name.startsWith('within') ||
    name.startsWith('coverage') ||
    name.endsWith('_share') ||
    name.endsWith('_rate')
  )
    return `${(v * 100).toFixed(1)}%`;
  return v.toLocaleString('en', { maximumFractionDigits: 3 });
}
