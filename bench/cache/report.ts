/** The Markdown summary of the cache benchmark. */
import type { MeasuredResult } from '../lib/measure.js';
import { allRequestPercentiles, type Ratios } from './ratios.js';

export interface Variant {
  name: string;
  /** Offered rate of this run, req/s. */
  rate: number;
  env: Record<string, string>;
  /** Whether this run had caches on: the p99 ratio compares runs with caches against the one without. */
  cached: boolean;
  load: MeasuredResult;
  ratios: Ratios;
}

export interface ReportContext {
  /** Appended to the title, to tell a short run from the full one. */
  titleNote?: string;
  /** The issue's rate: the figures that matter most are at this one. */
  rate: number;
  timeoutMs: number;
  machine: Record<string, unknown>;
  load: Record<string, string>;
  /** Share of requests for stores asked less than once per store-live lifetime (TTL + grace) at this rate. */
  liveColdShare: number;
  liveWindowSec: number;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const msOrOver = (v: number | null, timeoutMs: number): string =>
  v === null ? `> ${timeoutMs} (unanswered)` : `${v}`;

function latencyRow(v: Variant, c: ReportContext): string {
  const l = v.load;
  const all = allRequestPercentiles(l);
  const failed = l.errors + l.timeouts;
  return `| ${v.name} | ${v.rate} | ${Math.round(l.achievedRate)} | ${l.latency.p50} | ${l.latency.p95} | ${l.latency.p99} | ${msOrOver(all.p99, c.timeoutMs)} | ${l.ok} / ${l.sent} | ${l.non2xx} | ${failed} | ${v.cached ? pct(v.ratios.combined) : '-'} |`;
}

/** The p99 target, compared over every request sent so an overloaded run cannot look fast by dropping requests. */
function p99Verdicts(variants: Variant[], c: ReportContext): string[] {
  return variants
    .filter((v) => v.cached)
    .map((v) => {
      const at = `${v.name} at ${v.rate} req/s`;
      const uncached = variants.find((u) => !u.cached && u.rate === v.rate);
      if (!uncached) return `- ${at}: no run without caches at this rate to compare with.`;
      const base = allRequestPercentiles(uncached.load).p99;
      const mine = allRequestPercentiles(v.load).p99;
      if (mine === null) return `- ${at}: over 1% of requests unanswered within ${c.timeoutMs} ms: **MISS**.`;
      const ratio = (base ?? c.timeoutMs) / Math.max(mine, 0.001);
      const verdict = ratio >= 3 ? 'PASS' : 'MISS';
      const how =
        base === null
          ? `at least ${ratio.toFixed(1)}x (without caches p99 > ${c.timeoutMs} ms)`
          : `${ratio.toFixed(1)}x`;
      return `- ${at}: p99 ${mine} ms against ${base ?? `> ${c.timeoutMs}`} ms without caches: ${how}, target >= 3x: **${verdict}**.`;
    });
}

/** The outcome in words, per offered rate: which runs held it, and what the others achieved. */
function outcome(variants: Variant[], timeoutMs: number): string[] {
  const rates = [...new Set(variants.map((v) => v.rate))];
  return rates.map((rate) => {
    const at = variants.filter((v) => v.rate === rate);
    const held = at.filter((v) => allRequestPercentiles(v.load).p99 !== null);
    const fell = at.filter((v) => allRequestPercentiles(v.load).p99 === null);
    const parts = [
      held.length > 0 ? `held by ${held.map((v) => v.name).join(', ')}` : 'held by no run',
      ...fell.map(
        (v) =>
          `${v.name} fell behind: ${Math.round(v.load.achievedRate)} answers/s, ${pct(v.load.ok / Math.max(1, v.load.sent))} of requests answered within ${timeoutMs} ms`,
      ),
    ];
    return `- **${rate} req/s offered**: ${parts.join('; ')}.`;
  });
}

function hitTables(v: Variant): string[] {
  const r = v.ratios;
  return [
    `### ${v.name} at ${v.rate} req/s`,
    '',
    `- **combined hit ratio ${pct(r.combined)}** (target > 80%: **${r.combined > 0.8 ? 'PASS' : 'MISS'}**): lookups answered by L1 or L2 over all lookups, the four caches together.`,
    ...(r.responses !== undefined
      ? [`- requests answered from the response cache (no predictor called): ${pct(r.responses)}`]
      : []),
    `- requests answered without waiting for a store or geo load: between ${pct(r.withoutSource.low)} and ${pct(r.withoutSource.high)}`,
    '',
    '| cache | lookups | answered from a cache | L1 evictions |',
    '|---|---|---|---|',
    ...r.caches.map((x) => `| ${x.cache} | ${x.lookups} | ${pct(x.hitRatio)} | ${x.evictions} |`),
    '',
    '| cache | level | lookups | hit ratio |',
    '|---|---|---|---|',
    ...r.levels.map((l) => `| ${l.cache} | ${l.level} | ${l.lookups} | ${pct(l.hitRatio)} |`),
    '',
  ];
}

/**
 * Per process CPU per request, and what it implies: the rate these cores could carry at that cost (generator
 * included). Only for runs that answered everything: an overloaded run also spends CPU on requests that arrive too
 * late to count, which inflates its cost per answered request.
 */
function cpuTable(variants: Variant[], cores: number): string[] {
  const names = [...new Set(variants.flatMap((v) => Object.keys(v.load.usage)))].sort();
  const cell = (v: Variant, n: string): string => {
    const u = v.load.usage[n];
    return u ? `${u.cpuMsPerRequest} ms (${Math.round(u.cpuPercent)}%)` : '-';
  };
  const ceiling = (v: Variant): string => {
    const l = v.load;
    if (l.ok < l.sent) return 'overloaded';
    const ms = Object.values(l.usage).reduce((a, u) => a + u.cpuMsPerRequest, 0);
    return ms > 0 ? `${Math.round((cores * 1000) / ms)} req/s (${Math.round(ms * 100) / 100} ms)` : '-';
  };
  return [
    `| run | ${names.join(' | ')} | all cores busy | others (cores) | ${cores} cores carry at this cost |`,
    '|---|' + names.map(() => '---|').join('') + '---|---|---|',
    ...variants.map(
      (v) =>
        `| ${v.name} at ${v.rate} | ${names.map((n) => cell(v, n)).join(' | ')} | ${v.load.machine.busyCores} | ${v.load.machine.othersCores} | ${ceiling(v)} |`,
    ),
  ];
}

function timelineLine(v: Variant): string {
  const t = v.load.timeline;
  if (t.length === 0) return `- ${v.name} at ${v.rate} req/s: no timeline`;
  const failing = t.filter((p) => p.timeouts + p.errors + p.non2xx > 0).length;
  const p99s = t.map((p) => p.p99).sort((a, b) => a - b);
  const median = p99s[Math.floor(p99s.length / 2)]!;
  return `- ${v.name} at ${v.rate} req/s: p99 per second median ${median} ms, worst ${p99s[p99s.length - 1]} ms; ${failing} of ${t.length} seconds had unanswered requests; generator send lag p99 ${v.load.sendLag.p99} ms`;
}

export function summary(variants: Variant[], c: ReportContext): string {
  const m = c.machine;
  const noisy = variants.some((v) => v.load.machine.othersCores > 0.3);
  return [
    `# Cache benchmark: POST /v1/eta with and without caches${c.titleNote ? ` (${c.titleNote})` : ''}`,
    '',
    `Measured on ${String(m.cpus)} cores (${String(m.cpuModel)}), Node ${String(m.node)}, load average ${String(m.loadavg1m)} at the end. Generator and cluster share the machine (loopback).` +
      (noisy
        ? ' **Noisy:** other processes used over 0.3 cores during at least one run (see "others" below): compare the rows of this run, not absolute figures.'
        : ''),
    '',
    '## Load',
    '',
    ...Object.entries(c.load).map(([k, v]) => `- **${k}**: ${v}`),
    '',
    '## Latency',
    '',
    `Milliseconds from the intended send time (coordinated omission corrected). "p99 all" counts every request sent, an unanswered one (no answer within ${c.timeoutMs} ms, a transport error or a non-2xx) as slower than any answer; the 2xx-only columns alone would flatter an overloaded run.`,
    '',
    '| run | offered req/s | achieved 2xx/s | p50 | p95 | p99 | p99 all | 2xx / sent | non-2xx | timeouts + errors | combined hit ratio |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...variants.map((v) => latencyRow(v, c)),
    '',
    ...outcome(variants, c.timeoutMs),
    '',
    ...p99Verdicts(variants, c),
    '',
    'Per second of the measured window:',
    '',
    ...variants.map(timelineLine),
    '',
    '## Hit ratios',
    '',
    'The headline **combined hit ratio** is hits over lookups summed over the four caches (responses at the gateway; store profiles, live store state and geo trips at the predictors) and both levels, the figure `etaserve_cache_requests_total` gives a dashboard: a lookup counts as a hit when L1 or L2 answered it (fresh or stale). Two request-level figures follow it: requests the response cache answered, and requests answered without waiting for any store or geo load (a range, since counters do not say which request missed which cache).',
    '',
    ...variants.filter((v) => v.cached).flatMap(hitTables),
    `What bounds it: live store state lives ${c.liveWindowSec} s (TTL plus grace), and under Zipf(1.1) ${pct(c.liveColdShare)} of requests at ${c.rate} req/s are for stores asked less than once in that window, so their live state is loaded almost every time. Response and geo-trip keys split each store further by destination cell (and responses by 5-minute bucket and basket), so only popular stores share them within an entry's life.`,
    '',
    '## CPU per request, by process (measured window; share of one core in brackets)',
    '',
    ...cpuTable(variants, Number(m.cpus)),
    '',
  ].join('\n');
}
