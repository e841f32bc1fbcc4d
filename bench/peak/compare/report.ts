/**
 * The verdicts (issue 16's targets, judged on the change) and the Markdown summary of `bench:peak --compare`.
 */
import type { CompareSide } from '../config.js';
import type { Verdict } from '../targets.js';
import type { CompareReport } from './run-compare.js';
import type { StepResult } from './step.js';

const SIDES: CompareSide[] = ['baseline', 'change', 'seed'];

function step(r: CompareReport, side: CompareSide, rate: number): StepResult | undefined {
  return r.steps.find((s) => s.side === side && s.kind === 'steady' && s.rate === rate);
}

const failures = (s: StepResult): number => s.errors + s.timeouts + s.non2xx;
const quietNote = (s: StepResult): string =>
  s.quiet.quiet ? `quiet (load ${s.quiet.loadBefore})` : `NOT quiet (load ${s.quiet.loadBefore} before)`;

/** A step with no 2xx answer has no latency to judge (its percentiles read 0): a MISS, said as such. */
function unanswered(target: string, s: StepResult): Verdict | undefined {
  if (s.ok > 0) return undefined;
  return {
    target,
    status: 'MISS',
    detail: `no 2xx answer (errors/timeouts/non-2xx ${s.errors}/${s.timeouts}/${s.non2xx}); ${quietNote(s)}`,
  };
}

function pending(target: string, why: string): Verdict {
  return { target, status: 'PENDING', detail: why };
}

/** Process names of a side whose name starts with `prefix` (descendants `<name>.<n>` excluded). */
function maxRss(s: StepResult, prefix: string): { name: string; rssMb: number } | undefined {
  let best: { name: string; rssMb: number } | undefined;
  for (const [name, m] of Object.entries(s.memory)) {
    if (!name.startsWith(prefix) || name.includes('.')) continue;
    if (!best || m.rssMb > best.rssMb) best = { name, rssMb: m.rssMb };
  }
  return best;
}

export function compareVerdicts(r: CompareReport): Verdict[] {
  const t = r.config.targets;
  const out: Verdict[] = [];
  const hi = t.high.rate;
  const lo = t.base.rate;
  const notRun = (rate: number, side = 'change'): string =>
    `no ${side} step at ${rate} req/s in this run (rates: ${r.config.rates.join(', ')})`;

  {
    const target = `cluster at ${hi} req/s: p95 and p99 lower than the seed stack's, same run`;
    const c = step(r, 'change', hi);
    const s = step(r, 'seed', hi);
    if (!c || !s) out.push(pending(target, notRun(hi, !c ? 'change' : 'seed')));
    else if (c.ok === 0 || s.ok === 0) out.push(unanswered(target, c.ok === 0 ? c : s)!);
    else {
      const ok = c.latency.p95 < s.latency.p95 && c.latency.p99 < s.latency.p99;
      out.push({
        target,
        status: ok ? 'PASS' : 'MISS',
        detail: `p95 ${c.latency.p95} vs ${s.latency.p95} ms, p99 ${c.latency.p99} vs ${s.latency.p99} ms (change vs seed)`,
      });
    }
  }
  {
    const target = `cluster at ${hi} req/s (quiet run): p95 <= ${t.high.p95Ms} ms, p99 <= ${t.high.p99Ms} ms, zero errors`;
    const c = step(r, 'change', hi);
    if (!c) out.push(pending(target, notRun(hi)));
    else if (c.ok === 0) out.push(unanswered(target, c)!);
    else {
      const ok = c.latency.p95 <= t.high.p95Ms && c.latency.p99 <= t.high.p99Ms && failures(c) === 0;
      out.push({
        target,
        status: ok ? 'PASS' : 'MISS',
        detail: `p95 ${c.latency.p95} ms, p99 ${c.latency.p99} ms, errors/timeouts/non-2xx ${c.errors}/${c.timeouts}/${c.non2xx}; ${quietNote(c)}`,
      });
    }
  }
  {
    const target = `cluster at ${lo} req/s: p99 <= ${t.base.p99Ms} ms`;
    const c = step(r, 'change', lo);
    if (!c) out.push(pending(target, notRun(lo)));
    else if (c.ok === 0) out.push(unanswered(target, c)!);
    else {
      out.push({
        target,
        status: c.latency.p99 <= t.base.p99Ms && failures(c) === 0 ? 'PASS' : 'MISS',
        detail: `p99 ${c.latency.p99} ms, errors/timeouts/non-2xx ${c.errors}/${c.timeouts}/${c.non2xx}; ${quietNote(c)}`,
      });
    }
  }
  {
    const target = `CPU per request summed over the cluster's processes <= ${t.base.cpuMsPerRequest} ms at ${lo} req/s`;
    const c = step(r, 'change', lo);
    const b = step(r, 'baseline', lo);
    if (!c) out.push(pending(target, notRun(lo)));
    else if (c.ok + c.non2xx === 0) out.push(unanswered(target, c)!);
    else {
      out.push({
        target,
        status: c.cpuMsPerRequest <= t.base.cpuMsPerRequest ? 'PASS' : 'MISS',
        detail: `${c.cpuMsPerRequest} ms/req` + (b ? ` (baseline ${b.cpuMsPerRequest})` : ''),
      });
    }
  }
  {
    const target = `cold start: p99 of the first ${r.config.cold.durationSec} s at ${r.config.cold.rate} req/s <= ${t.coldRatio}x the steady p99`;
    const c = r.cold.find((x) => x.side === 'change');
    const b = r.cold.find((x) => x.side === 'baseline');
    if (!c || c.status !== 'ok' || c.ratio === undefined) {
      out.push(
        pending(target, c?.reason ?? 'no cold start of the change with a steady step at the same rate'),
      );
    } else if (r.config.cold.rate !== lo || r.config.cold.durationSec < 30) {
      out.push(
        pending(
          target,
          `ratio ${c.ratio} measured at ${r.config.cold.rate}/s for ${r.config.cold.durationSec} s, not the target's ${lo}/s for 30 s`,
        ),
      );
    } else {
      out.push({
        target,
        status: c.ratio <= t.coldRatio ? 'PASS' : 'MISS',
        detail:
          `p99 ${c.step!.latency.p99} ms vs steady ${c.steadyP99} ms: ${c.ratio}x` +
          (b?.ratio !== undefined ? ` (baseline ${b.ratio}x)` : ''),
      });
    }
  }
  {
    const target = `at ${lo} req/s: each predictor's RSS < ${t.base.predictorMb} MB, the gateway's < ${t.base.gatewayMb} MB`;
    const c = step(r, 'change', lo);
    if (!c) out.push(pending(target, notRun(lo)));
    else {
      const p = maxRss(c, 'predictor');
      const g = maxRss(c, 'gateway');
      if (!p || !g) out.push(pending(target, 'no predictor or gateway process measured'));
      else {
        out.push({
          target,
          status: p.rssMb < t.base.predictorMb && g.rssMb < t.base.gatewayMb ? 'PASS' : 'MISS',
          detail: `largest predictor ${p.rssMb} MB (${p.name}), gateway ${g.rssMb} MB (VmRSS at the end of the step)`,
        });
      }
    }
  }
  {
    const target = `embedded etaserve start after a soak at ${r.config.soak.rate} req/s: RSS < ${t.embeddedMb} MB`;
    if (!r.soak) out.push(pending(target, 'no soak in this run (--soak-minutes N)'));
    else {
      out.push({
        target,
        status: r.soak.finalRssMb < t.embeddedMb ? 'PASS' : 'MISS',
        detail: `${r.soak.finalRssMb} MB after ${r.soak.minutes} min (peak ${r.soak.hwmMb} MB)`,
      });
    }
  }
  return out;
}

const fmt = (x: number | undefined, digits = 2): string =>
  x === undefined || Number.isNaN(x) ? '–' : String(Math.round(x * 10 ** digits) / 10 ** digits);
const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && a > 0 && b > 0 ? `${fmt(a / b)}x` : '–';
/** A latency figure, or NaN (shown as '–', no ratio) when the step had no 2xx answer. */
const lat = (s: StepResult, k: 'p50' | 'p95' | 'p99' | 'p999' | 'max'): number =>
  s.ok > 0 ? s.latency[k] : Number.NaN;

function rateTable(r: CompareReport, rate: number): string[] {
  const cols = SIDES.filter((s) => r.config.sides.includes(s));
  const st = Object.fromEntries(cols.map((s) => [s, step(r, s, rate)])) as Record<
    CompareSide,
    StepResult | undefined
  >;
  const withRatios = cols.includes('change');
  const head = [
    '| | ' + cols.join(' | ') + (withRatios ? ' | change / baseline | change / seed |' : ' |'),
    '|---|' + cols.map(() => '---|').join('') + (withRatios ? '---|---|' : ''),
  ];
  const row = (label: string, get: (s: StepResult) => number | string, ratios = false): string => {
    const show = (v: number | string): string => (typeof v === 'number' && Number.isNaN(v) ? '–' : String(v));
    const cells = cols.map((c) => (st[c] ? show(get(st[c]!)) : '–'));
    let tail = '';
    if (withRatios) {
      const num = (s?: StepResult): number | undefined => (s ? Number(get(s)) : undefined);
      tail = ratios
        ? ` ${ratio(num(st.change), num(st.baseline))} | ${ratio(num(st.change), num(st.seed))} |`
        : ' | |';
    }
    return `| ${label} | ${cells.join(' | ')} |${tail}`;
  };
  return [
    `### ${rate} req/s`,
    '',
    ...head,
    row('achieved req/s', (s) => s.achievedRate),
    row('p50 ms', (s) => lat(s, 'p50')),
    row('p95 ms', (s) => lat(s, 'p95'), true),
    row('p99 ms', (s) => lat(s, 'p99'), true),
    row('p99.9 ms', (s) => lat(s, 'p999')),
    row('max ms', (s) => lat(s, 'max')),
    row('errors / timeouts / non-2xx', (s) => `${s.errors} / ${s.timeouts} / ${s.non2xx}`),
    row(
      'CPU ms/req (all its processes)',
      (s) => (s.ok + s.non2xx > 0 ? s.cpuMsPerRequest : Number.NaN),
      true,
    ),
    row('server cores', (s) => s.serverCores),
    row('load avg before (quiet?)', (s) => `${s.quiet.loadBefore}${s.quiet.quiet ? '' : ' (no)'}`),
    row('other processes, cores', (s) => s.othersCores),
    row('generator, cores', (s) => s.generatorCores),
    '',
  ];
}

function processTable(r: CompareReport): string[] {
  const lines = [
    '| side | rate | per process: CPU ms/req, RSS / peak RSS MB at the end of the step |',
    '|---|---|---|',
  ];
  const all = [...r.steps, ...r.cold.flatMap((c) => (c.step ? [c.step] : []))];
  for (const s of all) {
    const procs = Object.entries(s.memory).map(([name, m]) => {
      const root = name.split('.')[0]!;
      const cpu = name.includes('.') ? '' : ` ${s.cpuByProcess[root]?.cpuMsPerRequest ?? '–'} ms,`;
      return `${name}${cpu} ${m.rssMb} / ${m.hwmMb}`;
    });
    lines.push(`| ${s.side} | ${s.kind === 'cold' ? `cold ${s.rate}` : s.rate} | ${procs.join('; ')} |`);
  }
  return lines;
}

export function compareMarkdown(r: CompareReport): string {
  const c = r.config;
  const lines: string[] = [
    `# Peak compare (issue 16): baseline ${c.baseline} vs change vs seed stack${r.quick ? ' (quick: proves the harness, not the targets)' : ''}`,
    '',
    `\`npm run bench:peak -- --compare\`, ${r.date}, ${r.wallSec} s. Machine: ${String(r.machine['cpus'])} cores ` +
      `(${String(r.machine['cpuModel'])}), Node ${String(r.machine['node'])}; the generator shares the cores.`,
    '',
    (c.oneSideUp
      ? '- **Sides** (one up at a time: each started for its step, stopped after it; the step begins once its gateway is ready):'
      : `- **Sides** (started once, up for every rate; an idle side's CPU shows in "other processes"):`) +
      ` baseline = ${c.baseline} (${String(r.sides.find((s) => s.side === 'baseline')?.info?.['commit'] ?? '?').slice(0, 12)}) in a worktree,` +
      " `etaserve up --predictors 2`, no Redis; change = this working tree's compiled CLI, same shape; seed =" +
      ' ../shared/peers/seed-stack (nginx, 2 uvicorn ETA instances, Redis, store, geo), `POST /v1/eta` through nginx.',
    `- **Load:** bench/loadgen for every side, open loop, ${c.connections} connections, latency from the intended send` +
      ` time; per step ${c.warmupSec} s warm-up (unrecorded) then ${c.durationSec} s measured, at ${c.rates.join(' and ')} req/s;` +
      ` sides alternate at each rate (${c.sides.join(', ')}). Before each step the 1-minute load average had to fall to` +
      ` <= ${c.quiet.loadavg} (at most ${c.quiet.maxWaitSec} s): the value and whether it did are in each table.`,
    `- **The etaserve sides** serve the simulated city (${c.city.stores.toLocaleString('en-US')} stores, ${c.city.days} days of` +
      ' history, model v1), each from a data dir trained by its own CLI, with the mix of bench/peak/mix.ts over the catalog read back:' +
      ' each step sends bodies of its own (the same at one rate for every side), none repeated within the step.',
    '- **The seed stack does less per request** (no API keys, rate limits, metrics or response cache; a p50 × 0.8 / × 1.3' +
      ' range) and serves its own 300-store payloads (its payloads.py, Zipf(1.1), evening order times): quote the ratios with that.',
    "- **CPU ms/req** is utime+stime of every process of the side (each child of `up`; every pid in the seed's run/pids" +
      " with nginx's worker), over the measured window, per request answered.",
    '',
  ];
  for (const s of r.sides.filter((x) => x.status !== 'ok'))
    lines.push(`- **${s.side} ${s.status}:** ${s.reason ?? ''}`);
  for (const n of r.notes) lines.push(`- **Note:** ${n}`);
  lines.push('', '## Targets (the change)', '', '| target | status | detail |', '|---|---|---|');
  for (const v of r.verdicts)
    lines.push(`| ${v.target} | ${v.status === 'PASS' ? 'PASS' : `**${v.status}**`} | ${v.detail} |`);
  lines.push('', '## Steady, side by side', '');
  for (const rate of c.rates) lines.push(...rateTable(r, rate));
  if (r.cold.length) {
    lines.push(
      '## Cold start',
      '',
      `A fresh \`up --predictors 2\` on a fresh copy of the side's data dir, driven at ${c.cold.rate} req/s for ${c.cold.durationSec} s` +
        " the moment the gateway's /readyz answered 200, no warm-up.",
      '',
      '| side | ready after s | p50 ms | p95 ms | p99 ms | max ms | errors / timeouts / non-2xx | steady p99 ms | ratio | load before |',
      '|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const x of r.cold) {
      if (x.status !== 'ok' || !x.step) {
        lines.push(`| ${x.side} | failed: ${x.reason ?? ''} | | | | | | | | |`);
        continue;
      }
      const l = x.step.latency;
      lines.push(
        `| ${x.side} | ${fmt((x.readyAfterMs ?? 0) / 1000, 1)} | ${l.p50} | ${l.p95} | ${l.p99} | ${l.max} | ` +
          `${x.step.errors} / ${x.step.timeouts} / ${x.step.non2xx} | ${x.steadyP99 ?? '–'} | ${x.ratio ?? '–'}x | ${x.step.quiet.loadBefore} |`,
      );
    }
    lines.push('');
  }
  if (r.soak) {
    const s = r.soak;
    lines.push(
      '## Soak',
      '',
      `Embedded \`etaserve start\` of the change at ${s.rate} req/s for ${s.minutes} min: achieved ${s.achievedRate}/s, p99 ${s.latency.p99} ms,` +
        ` errors / timeouts / non-2xx ${s.errors} / ${s.timeouts} / ${s.non2xx}; RSS ${s.finalRssMb} MB at the end (peak ${s.hwmMb} MB).`,
      '',
      '| s | RSS MB | peak MB |',
      '|---|---|---|',
      ...s.samples.map((p) => `| ${p.atSec} | ${p.rssMb} | ${p.hwmMb} |`),
      '',
    );
  }
  lines.push('## Per process', '', ...processTable(r), '');
  return lines.join('\n');
}
