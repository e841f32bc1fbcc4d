import type { RateStep } from './search.js';
import type { LatencySummary, LoadResult } from './types.js';

const lat = (l: LatencySummary): string =>
  `p50 ${l.p50}  p90 ${l.p90}  p95 ${l.p95}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max} ms`;

/** A few lines a person can read at a terminal. */
export function formatResult(r: LoadResult, opts: { timeline?: boolean } = {}): string {
  const lines = [
    `${r.method} ${r.url}${r.path}  target ${r.targetRate}/s for ${r.durationSec}s (+${r.warmupSec}s warm-up), ${r.connections} connections`,
    `  scheduled ${r.scheduled}  sent ${r.sent}  2xx ${r.ok}  non-2xx ${r.non2xx}  errors ${r.errors}  timeouts ${r.timeouts}` +
      (r.items !== r.ok ? `  items ${r.items}` : ''),
    `  achieved ${r.achievedRate}/s` + (r.items !== r.ok ? `  (${r.itemsPerSec} items/s)` : ''),
    `  latency (corrected)    ${lat(r.latency)}`,
    `  latency (uncorrected)  ${lat(r.uncorrected)}`,
    `  generator send lag     p50 ${r.sendLag.p50}  p99 ${r.sendLag.p99}  max ${r.sendLag.max} ms; ` +
      `CPU ${r.generator.cpuPercent}% of a core, ${r.generator.cpuMsPerRequest} ms/req, RSS ${r.generator.maxRssMb} MB`,
  ];
  for (const t of r.targets ?? [])
    lines.push(
      `  ${t.url}  sent ${t.sent}  2xx ${t.ok}  non-2xx ${t.non2xx}  errors ${t.errors}  timeouts ${t.timeouts}  ${lat(t.latency)}`,
    );
  if (Object.keys(r.statusCounts).length) lines.push(`  statuses ${JSON.stringify(r.statusCounts)}`);
  if (Object.keys(r.errorCodes).length) lines.push(`  error codes ${JSON.stringify(r.errorCodes)}`);
  if (opts.timeline) {
    lines.push('  second   sent    2xx  non2xx  errors  timeouts    p50     p99     max (ms)');
    for (const t of r.timeline) {
      lines.push(
        `  ${String(t.second).padStart(6)} ${String(t.sent).padStart(6)} ${String(t.ok).padStart(6)} ${String(t.non2xx).padStart(7)} ${String(t.errors).padStart(7)} ${String(t.timeouts).padStart(9)} ${String(t.p50).padStart(7)} ${String(t.p99).padStart(7)} ${String(t.max).padStart(7)}`,
      );
    }
  }
  return lines.join('\n');
}

export function formatSteps(steps: RateStep[]): string {
  return steps
    .map(
      (s) =>
        `  ${String(s.rate).padStart(7)}/s  ${s.pass ? 'pass' : 'MISS'}  achieved ${s.result.achievedRate}/s  ` +
        `p99 ${s.result.latency.p99} ms  max ${s.result.latency.max} ms` +
        (s.reasons.length ? `  (${s.reasons.join('; ')})` : ''),
    )
    .join('\n');
}
