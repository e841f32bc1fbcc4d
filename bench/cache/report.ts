/** Hit ratios from cache metric deltas, and the Markdown summary of the cache benchmark. */
import type { LoadResult } from '../loadgen/index.js';
import type { Samples } from './cluster.js';

export interface Ratios {
  /** Per cache and level: hits (fresh or stale) over lookups at that level. */
  levels: Array<{ cache: string; level: string; lookups: number; hitRatio: number }>;
  /** Per cache: lookups answered by any level over all lookups. */
  caches: Array<{ cache: string; lookups: number; hitRatio: number; evictions: number }>;
  /** Every cache together: lookups answered from a cache over all lookups. */
  combined: number;
}

export interface Variant {
  name: string;
  env: Record<string, string>;
  load: LoadResult;
  ratios: Ratios;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

export function hitRatios(before: Samples, after: Samples): Ratios {
  const delta = (key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const counts = new Map<string, Record<string, number>>();
  const evictions = new Map<string, number>();
  for (const key of after.keys()) {
    const labels = Object.fromEntries([...key.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (key.startsWith('etaserve_cache_evictions_total')) {
      evictions.set(labels.cache!, (evictions.get(labels.cache!) ?? 0) + delta(key));
      continue;
    }
    const id = `${labels.cache}|${labels.level}`;
    const c = counts.get(id) ?? { hit: 0, stale: 0, miss: 0 };
    c[labels.result!] = (c[labels.result!] ?? 0) + delta(key);
    counts.set(id, c);
  }
  const levels = [...counts].map(([id, c]) => {
    const [cache, level] = id.split('|') as [string, string];
    const lookups = c.hit! + c.stale! + c.miss!;
    return { cache, level, lookups, hitRatio: lookups ? round((c.hit! + c.stale!) / lookups) : 0 };
  });
  const names = [...new Set(levels.map((l) => l.cache))].sort();
  let allLookups = 0;
  let allHits = 0;
  const caches = names.map((cache) => {
    const l1 = counts.get(`${cache}|l1`) ?? { hit: 0, stale: 0, miss: 0 };
    const l2 = counts.get(`${cache}|l2`) ?? { hit: 0, stale: 0, miss: 0 };
    const lookups = l1.hit! + l1.stale! + l1.miss!;
    const hits = l1.hit! + l1.stale! + l2.hit! + l2.stale!;
    allLookups += lookups;
    allHits += hits;
    return {
      cache,
      lookups,
      hitRatio: lookups ? round(hits / lookups) : 0,
      evictions: evictions.get(cache) ?? 0,
    };
  });
  return {
    levels: levels.sort((a, b) => `${a.cache}${a.level}`.localeCompare(`${b.cache}${b.level}`)),
    caches,
    combined: allLookups ? round(allHits / allLookups) : 0,
  };
}

export function summary(
  load: Record<string, string>,
  variants: Variant[],
  machine: Record<string, unknown>,
): string {
  const row = (v: Variant): string => {
    const l = v.load;
    return `| ${v.name} | ${l.latency.p50} | ${l.latency.p95} | ${l.latency.p99} | ${l.ok} / ${l.sent} | ${l.non2xx} | ${l.errors + l.timeouts} | ${Math.round(l.achievedRate)} | ${(v.ratios.combined * 100).toFixed(1)}% |`;
  };
  const uncached = variants[variants.length - 1]!;
  const cachedRuns = variants.slice(0, -1);
  const ratios = cachedRuns.map(
    (v) => `${v.name}: **${(uncached.load.latency.p99 / Math.max(v.load.latency.p99, 0.001)).toFixed(1)}x**`,
  );
  const levelTables = cachedRuns.flatMap((v) => [
    `### ${v.name}: combined hit ratio **${(v.ratios.combined * 100).toFixed(1)}%** (target > 80%)`,
    '',
    '| cache | lookups | answered from a cache | L1 evictions |',
    '|---|---|---|---|',
    ...v.ratios.caches.map(
      (c) => `| ${c.cache} | ${c.lookups} | ${(c.hitRatio * 100).toFixed(1)}% | ${c.evictions} |`,
    ),
    '',
    '| cache | level | lookups | hit ratio |',
    '|---|---|---|---|',
    ...v.ratios.levels.map(
      (l) => `| ${l.cache} | ${l.level} | ${l.lookups} | ${(l.hitRatio * 100).toFixed(1)}% |`,
    ),
    '',
  ]);
  return [
    '# Cache benchmark: POST /v1/eta with and without caches',
    '',
    `Measured on ${String(machine.cpus)} cores (${String(machine.cpuModel)}), Node ${String(machine.node)}, load average ${String(machine.loadavg1m)} at the end: a shared machine, so compare the rows of this run rather than absolute figures.`,
    '',
    '## Load',
    '',
    ...Object.entries(load).map(([k, v]) => `- **${k}**: ${v}`),
    '',
    '## Latency (ms, from the intended send time: corrected for coordinated omission)',
    '',
    '| run | p50 | p95 | p99 | 2xx / sent | non-2xx | errors + timeouts | achieved req/s | combined hit ratio |',
    '|---|---|---|---|---|---|---|---|---|',
    ...variants.map(row),
    '',
    `p99 without caches / with caches (target >= 3x): ${ratios.join(', ')}.`,
    '',
    '## Hit ratio per cache and level',
    '',
    ...levelTables,
  ].join('\n');
}
