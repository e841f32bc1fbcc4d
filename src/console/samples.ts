import { fetchWithin, type Registry } from '../platform/index.js';

/** One time series value, as Prometheus names it: `etaserve_x_bucket{le="0.1",route="/v1/eta"} 12`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Where the console reads metrics from: this process's registry, or another process's /metrics. */
export type SampleSource = () => Promise<Sample[]>;

export function seriesKey(s: Sample): string {
  const labels = Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${s.labels[k]}`)
    .join(',');
  return `${s.name}{${labels}}`;
}

/** What every prom-client metric is at run time (its published type hides `get`). */
interface CollectableMetric {
  name: string;
  get(): Promise<{
    values: Array<{
      value: number;
      labels: Record<string, string | number | undefined>;
      metricName?: string;
    }>;
  }>;
}

/**
 * This process's own registry, without a trip through the text format. Only etaserve's metrics are collected:
 * the process and GC metrics would cost more than everything the console draws.
 */
export function registrySource(registry: Registry): SampleSource {
  return async () => {
    const metrics = (registry.getMetricsAsArray() as unknown as CollectableMetric[]).filter((m) =>
      m.name.startsWith('etaserve_'),
    );
    const all = await Promise.all(metrics.map((m) => m.get()));
    const out: Sample[] = [];
    all.forEach((m, i) => {
      for (const v of m.values) {
        const labels: Record<string, string> = {};
        for (const [k, val] of Object.entries(v.labels)) if (val !== undefined) labels[k] = String(val);
        out.push({ name: v.metricName ?? metrics[i]!.name, labels, value: v.value });
      }
    });
    return out;
  };
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The Prometheus text exposition format, the part prom-client writes (no timestamps needed). */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || !line.startsWith('etaserve_')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Another process's /metrics; an unreachable process contributes nothing this second rather than failing. */
export function scrapeSource(url: string, timeoutMs = 800): SampleSource {
  return async () => {
    try {
      return await fetchWithin(url, timeoutMs, async (res) =>
        res.ok ? parsePrometheusText(await res.text()) : [],
      );
    } catch {
      return [];
    }
  };
}
