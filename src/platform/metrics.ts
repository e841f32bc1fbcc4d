import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/** Buckets for latencies from tens of microseconds to seconds. */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
  2.5, 5,
];

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'route' | 'method' | 'status_code'>;
}

export function createMetrics(labels: Record<string, string> = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'etaserve_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['route', 'method', 'status_code'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  return { registry, httpDuration };
}

type LabelsOf<T extends string> = Partial<Record<T, string | number>>;

/** The prom-client 15 histogram fields a series merges into; `metrics.test.ts` holds the output equal. */
interface HistogramInternals {
  upperBounds: readonly number[];
  sortedLabelNames: readonly string[];
  hashMap: Record<string, { bucketValues: Record<number, number>; sum: number; count: number } | undefined>;
}

interface Flushable {
  flush(): void;
}

const seriesOf = new WeakMap<object, Flushable[]>();

/** Runs every series' flush before the metric is read, whoever reads it (`/metrics`, the console). */
function flushOnCollect(metric: object, series: Flushable): void {
  let list = seriesOf.get(metric);
  if (!list) {
    const all: Flushable[] = [];
    list = all;
    seriesOf.set(metric, all);
    const holder = metric as { collect?: (this: unknown) => unknown };
    const previous = holder.collect;
    holder.collect = function collect(this: unknown): unknown {
      for (const s of all) s.flush();
      return previous?.call(this);
    };
  }
  list.push(series);
}

export interface CounterSeries {
  inc(by?: number): void;
}

export interface HistogramSeries {
  observe(value: number): void;
}

/**
 * One label set of a counter, counted in a plain number and added to the counter when it is collected. On the
 * request path prom-client's own `inc(labels)` validates and hashes the labels every time, microseconds a call
 * in a busy process; a series costs an addition. Create series once (per label set) and keep them.
 */
export function counterSeries<T extends string>(counter: Counter<T>, labels: LabelsOf<T>): CounterSeries {
  let pending = 0;
  const series = {
    inc(by = 1): void {
      pending += by;
    },
    flush(): void {
      if (pending === 0) return;
      const by = pending;
      pending = 0;
      counter.inc(labels, by);
    },
  };
  flushOnCollect(counter, series);
  return series;
}

/**
 * One label set of a histogram, bucketed into a typed array and merged into the histogram when it is collected:
 * the same buckets, sum and count that `observe(labels, value)` would give, without its per-call label work.
 */
export function histogramSeries<T extends string>(
  histogram: Histogram<T>,
  labels: LabelsOf<T>,
): HistogramSeries {
  const internals = histogram as unknown as HistogramInternals;
  const bounds = internals.upperBounds;
  // prom-client's key for a label set: `name:value,` for each label name present, in sorted order.
  let key = '';
  for (const name of internals.sortedLabelNames) {
    const value = labels[name as T];
    if (value !== undefined) key += `${name}:${value},`;
  }
  const counts = new Float64Array(bounds.length);
  let sum = 0;
  let count = 0;
  const series = {
    observe(value: number): void {
      if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
      let i = 0;
      while (i < bounds.length && value > bounds[i]!) i++;
      if (i < bounds.length) counts[i]!++;
      sum += value;
      count++;
    },
    flush(): void {
      if (count === 0) return;
      let entry = internals.hashMap[key];
      if (!entry) {
        histogram.zero(labels);
        entry = internals.hashMap[key];
        if (!entry) throw new Error(`prom-client histogram ${key} has no series to merge into`);
      }
      for (let i = 0; i < bounds.length; i++) {
        if (counts[i] === 0) continue;
        entry.bucketValues[bounds[i]!]! += counts[i]!;
        counts[i] = 0;
      }
      entry.sum += sum;
      entry.count += count;
      sum = 0;
      count = 0;
    },
  };
  flushOnCollect(histogram, series);
  return series;
}
