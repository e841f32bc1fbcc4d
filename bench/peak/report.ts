/** The Markdown summary of a peak run. */
import { ceilingMarkdownLines } from '../loadgen/ceiling.js';
import type { CeilingResult } from '../loadgen/ceiling.js';
import type { PeakConfig } from './config.js';
import type { FixedRun, ModelServingResult, SideResult } from './scenarios/model-serving.js';
import { platformMarkdown } from './platform-report.js';
import type { PlatformScenario } from './scenarios/platform.js';
import type { PlatformResults } from './scenarios/platform-run.js';
import type { Verdict } from './targets.js';

export interface PeakReport {
  date: string;
  quick: boolean;
  machine: Record<string, unknown>;
  config: PeakConfig;
  ceiling: CeilingResult | undefined;
  modelServing: (ModelServingResult & { verdicts: Verdict[] }) | undefined;
  pending: PlatformScenario[];
  /** Scenarios 2-5 that ran. */
  platform?: PlatformResults;
  /** Free-text notes on this run (disturbances, caveats), printed under the noise warning. */
  notes?: string[];
}

const n = (v: number | undefined): string => (v === undefined ? '-' : v.toLocaleString('en-US'));

function fixedTable(sides: SideResult[]): string[] {
  const rows: string[] = [
    '| endpoint | rate/s | side | achieved/s | rows/s | p50 | p90 | p99 | p99.9 | max | err / t-o / non-2xx | server CPU ms/req | server CPU % | generator CPU % | others (cores) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const runs = sides.flatMap((s) => s.fixed.map((f) => ({ side: s.side, f })));
  runs.sort(
    (a, b) =>
      a.f.endpoint.localeCompare(b.f.endpoint) * -1 || a.f.rate - b.f.rate || a.side.localeCompare(b.side),
  );
  for (const { side, f } of runs) {
    const r = f.result;
    rows.push(
      `| ${f.endpoint} | ${n(f.rate)} | ${side} | ${n(r.achievedRate)} | ${n(r.itemsPerSec)} | ${r.latency.p50} | ${r.latency.p90} | ${r.latency.p99} | ${r.latency.p999} | ${r.latency.max} | ${r.errors} / ${r.timeouts} / ${r.non2xx} | ${r.usage['server']?.cpuMsPerRequest ?? '-'} | ${r.usage['server']?.cpuPercent ?? '-'} | ${r.usage['generator']?.cpuPercent ?? '-'} | ${r.machine?.othersCores ?? '-'} |`,
    );
  }
  return rows;
}

/**
 * Server CPU per request, side by side at each fixed rate both sides sustained: less sensitive to a busy machine
 * than latency or max rate (a starved process still spends the same CPU per request), so the steadiest ratio.
 */
function cpuRatios(ms: ModelServingResult): string[] {
  const { peer, etaserve } = ms.sides;
  const rows: string[] = [];
  for (const p of peer.fixed) {
    const e = etaserve.fixed.find((f) => f.endpoint === p.endpoint && f.rate === p.rate);
    const pc = p.result.usage['server']?.cpuMsPerRequest;
    const ec = e?.result.usage['server']?.cpuMsPerRequest;
    // Comparable where both sides answered nearly everything: CPU spent on timed-out requests inflates the figure.
    const clean = (x: FixedRun): boolean =>
      x.result.timeouts === 0 && x.result.ok >= 0.9 * x.result.scheduled;
    if (!e || !clean(p) || !clean(e) || !pc || !ec) continue;
    rows.push(`| ${p.endpoint} | ${n(p.rate)} | ${pc} | ${ec} | x${Math.round((pc / ec) * 100) / 100} |`);
  }
  if (rows.length === 0) return [];
  return [
    '',
    'Server CPU per request where both sides answered >= 90% with no timeouts (steadier than latency on a busy machine):',
    '',
    '| endpoint | rate/s | peer CPU ms/req | etaserve CPU ms/req | peer / etaserve |',
    '|---|---|---|---|---|',
    ...rows,
  ];
}

function searchTable(sides: SideResult[]): string[] {
  const rows = [
    '| side | endpoint | target | max req/s | rows/s | p50 / p99 at max (ms) | first miss | server CPU ms/req at max |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const s of sides) {
    for (const ep of ['single', 'batch'] as const) {
      const x = s.search[ep];
      if (!x) continue;
      const miss = x.steps.find((st) => st.rate === x.firstFailRate);
      rows.push(
        `| ${s.side} | ${ep} | ${x.slo.percentile} <= ${x.slo.maxMs} ms | **${n(x.maxRate)}** | ${n(x.rowsPerSec)} | ${x.atMax ? `${x.atMax.p50} / ${x.atMax.p99}` : '-'} | ${miss ? `${n(miss.rate)}/s: ${miss.reasons.join('; ')}` : '-'} | ${x.atMax?.cpuMsPerRequest ?? '-'} |`,
      );
    }
  }
  rows.push(
    '',
    'Search ladders (rate/s: verdict, p99 ms; `r` = re-run after a miss; `busy` = cores other processes used meanwhile):',
    '',
  );
  for (const s of sides) {
    for (const ep of ['single', 'batch'] as const) {
      const x = s.search[ep];
      if (!x) continue;
      const ladder = x.steps
        .map(
          (st) =>
            `${n(st.rate)}${st.attempt ? 'r' : ''}: ${st.pass ? 'pass' : 'miss'} ${st.result.latency.p99}`,
        )
        .join(' → ');
      rows.push(`- ${s.side} ${ep}: ${ladder}`);
    }
  }
  return rows;
}

export function peakMarkdown(r: PeakReport): string {
  const m = r.machine;
  const out: string[] = [
    `# Peak benchmark${r.quick ? ' (quick mode)' : ''}: ${r.date}`,
    '',
    `Machine: ${m['cpus']} x ${m['cpuModel']}, Node ${m['node']}, ${m['platform']}; load average ${m['loadavg1m']} at the end. ` +
      'Generator, servers and harness share the machine (loopback).',
    '',
    "**Noisy:** the cores were shared with other engineers' work during this run. Absolute figures are low and jittery; " +
      'compare sides measured in this same run (ratios), not figures across runs.' +
      (r.quick ? ' Quick mode runs a few seconds per step: it proves the harness, not the numbers.' : ''),
    ...(r.notes ?? []).flatMap((x) => ['', `> ${x}`]),
    '',
    `Each run: ${r.config.warmupSec} s warm-up + ${r.config.durationSec} s measured, open loop, ${r.config.connections} keep-alive ` +
      `connections, latency from the intended send time (coordinated omission corrected), timeout ${r.config.timeoutMs} ms. ` +
      'A rate is "sustained" with no errors, timeouts or non-2xx and achieved >= 97% of target. Latencies in ms. ' +
      '"others" is CPU (in cores) that processes other than the measured server and the generator used during the ' +
      'measured window: anything above ~0.3 of the 2 cores means that run was disturbed.',
    '',
    '## Load generator ceiling',
    '',
  ];
  if (r.ceiling) {
    out.push(
      `Against a trivial node:http server in its own process (\`bench/loadgen/ceiling.ts\`). A server figure near ` +
        "these is the generator's, not the server's.",
      '',
      ...ceilingMarkdownLines(r.ceiling),
    );
  } else {
    out.push('Not measured in this run (`--only` left it out).');
  }
  const ms = r.modelServing;
  out.push('', `## Scenario 1: raw model serving, same model (peer \`model.json\`)`, '');
  if (ms) {
    const sides = [ms.sides.peer, ms.sides.etaserve];
    for (const s of sides) {
      out.push(`- **${s.side}** (${s.status}${s.reason ? `: ${s.reason}` : ''}): ${s.what}`);
    }
    out.push('', '### Targets', '', '| target | verdict | detail |', '|---|---|---|');
    for (const v of ms.verdicts) out.push(`| ${v.target} | **${v.status}** | ${v.detail} |`);
    const withRuns = sides.filter((s) => s.fixed.length > 0 || Object.keys(s.search).length > 0);
    if (withRuns.length) {
      out.push('', '### Fixed rates', '', ...fixedTable(withRuns));
      out.push(...cpuRatios(ms));
      if (withRuns.some((x) => Object.keys(x.search).length > 0)) {
        out.push('', '### Max rate (open loop, latency target, no errors)', '', ...searchTable(withRuns));
      } else {
        out.push('', '### Max rate', '', 'Not searched in this run (`--no-search`).');
      }
      if (r.ceiling) {
        const peerMax = ms.sides.peer.search.single?.maxRate;
        if (peerMax) {
          out.push(
            '',
            `Generator ceiling beside it: ${n(r.ceiling.maxRate)} req/s at p99 <= ${r.ceiling.sloP99Ms} ms and ` +
              `${n(r.ceiling.throughput.maxRate)} req/s at p99 <= ${r.ceiling.throughput.sloP99Ms} ms on a trivial server; ` +
              `the peer's single-row max is ${Math.round((peerMax / r.ceiling.throughput.maxRate) * 100)}% of the latter.`,
          );
        }
      }
      out.push('', '### Memory (peak RSS, VmHWM)', '', '| process | peak RSS MB |', '|---|---|');
      for (const s of withRuns) {
        const label =
          s.side === 'peer' ? 'peer: uvicorn worker (Python, XGBoost)' : 'etaserve: predictor process (Node)';
        out.push(`| ${label} | ${s.peakRssMb ?? '-'} |`);
      }
      const gen = Math.max(...withRuns.flatMap((s) => s.fixed.map((f) => f.result.generator.maxRssMb)), 0);
      out.push(`| load generator (max over runs) | ${gen || '-'} |`);
    }
  } else {
    out.push('Not run (`--only` left it out).');
  }
  out.push(...platformMarkdown(r.platform));
  if (r.pending.length) {
    out.push('', '## Not run', '', '| # | scenario | drives |', '|---|---|---|');
    for (const p of r.pending) {
      out.push(`| ${p.number} | ${p.title} | ${p.drives.map((d) => `${d.path} (${d.note})`).join('; ')} |`);
    }
  }
  out.push(
    '',
    'Full data: the `.json` beside this file (every run, histogram summaries, per-second timelines, CPU per process).',
  );
  return out.join('\n');
}
