/** The Markdown of scenarios 2-5: targets, fixed rates with CPU per process, searches, memory, the swap, profiles. */
import type { EndpointRun, RunSummary, ShapeSession } from './scenarios/platform-common.js';
import type { PlatformResults, ProfileRun } from './scenarios/platform-run.js';

const n = (v: number | undefined): string => (v === undefined ? '-' : v.toLocaleString('en-US'));
const TITLES: Record<string, string> = {
  '2': 'Scenario 2: POST /v1/eta, embedded `etaserve start`',
  '3': 'Scenario 3: POST /v1/eta, cluster `etaserve up --predictors 2`, without and with Redis',
  '4': 'Scenario 4: POST /v1/eta/batch of 50 stores, both shapes',
  '5': 'Scenario 5: mixed ETAs + events, model promotion mid-run',
};

const cpu = (r: RunSummary): string =>
  Object.entries(r.usage)
    .filter(([k]) => k !== 'generator')
    .map(([k, u]) => `${k} ${u.cpuMsPerRequest}`)
    .join(', ');

function fixedRows(runs: EndpointRun[]): string[] {
  const rows = [
    '| shape | endpoint | rate/s | achieved/s | p50 | p95 | p99 | max | non-2xx / err / t-o | CPU ms per request, per process | others (cores) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const run of runs) {
    for (const f of run.fixed) {
      const r = f.result;
      const non2 = r.non2xx ? ` ${JSON.stringify(r.statusCounts)}` : '';
      rows.push(
        `| ${run.shape} | ${run.endpoint} | ${n(f.rate)} | ${n(r.achievedRate)} | ${r.latency.p50} | ${r.latency.p95} | ${r.latency.p99} | ${r.latency.max} | ${r.non2xx}${non2} / ${r.errors} / ${r.timeouts} | ${cpu(r)} | ${r.machine.othersCores} |`,
      );
    }
  }
  return rows;
}

function searchRows(runs: EndpointRun[]): string[] {
  const withSearch = runs.filter((r) => r.search);
  if (!withSearch.length) return ['', 'Max-rate search not run (`--no-search`).'];
  const rows = [
    '',
    '| shape | endpoint | target | max rate | ladder (rate: verdict p99 ms; r = re-run) |',
    '|---|---|---|---|---|',
  ];
  for (const run of withSearch) {
    const s = run.search!;
    const ladder = s.steps
      .map((st) => `${n(st.rate)}${st.attempt ? 'r' : ''}: ${st.pass ? 'pass' : 'miss'} ${st.p99}`)
      .join(' → ');
    rows.push(
      `| ${run.shape} | ${run.endpoint} | ${s.slo.percentile} <= ${s.slo.maxMs} ms | **${n(s.maxRate)}/s** | ${ladder} |`,
    );
  }
  return rows;
}

function memoryRows(sessions: ShapeSession[]): string[] {
  const rows = [
    '',
    "Peak RSS (VmHWM) per process at the end of each shape's session, MB:",
    '',
    '| shape | process | peak RSS MB |',
    '|---|---|---|',
  ];
  for (const s of sessions) {
    for (const [proc, mb] of Object.entries(s.peakRssMb)) rows.push(`| ${s.shape} | ${proc} | ${mb} |`);
  }
  return rows;
}

function profileLines(p: ProfileRun): string[] {
  const out = [
    '',
    `### Profile: ${p.shape}, /v1/eta at ${n(p.rate)}/s under \`node --cpu-prof\``,
    '',
    `Run: achieved ${n(p.result.achievedRate)}/s, p50 ${p.result.latency.p50} ms, p99 ${p.result.latency.p99} ms; CPU ms/request: ${cpu(p.result)}.`,
  ];
  for (const [proc, s] of Object.entries(p.profiles)) {
    out.push(
      '',
      `**${proc}** (${n(s.totalMs)} ms of samples, idle excluded). Self time by area: ` +
        Object.entries(s.areas)
          .map(([a, v]) => `${a} ${v}%`)
          .join(', ') +
        '.',
      '',
      '| function | where | self ms | self % |',
      '|---|---|---|---|',
      ...s.top
        .slice(0, 12)
        .map((f) => `| \`${f.function}\` | ${f.where} | ${n(f.selfMs)} | ${f.selfPercent} |`),
    );
  }
  return out;
}

export function platformMarkdown(r: PlatformResults | undefined): string[] {
  if (!r || r.ran.length === 0) return [];
  const out: string[] = [
    '',
    '## Scenarios 2-5: the platform',
    '',
    `Every shape serves the simulated city: ${n(r.city.stores)} stores (the catalog, read back with \`GET /v1/stores\`), ` +
      `model v1 trained on ${r.city.days} days of history; each shape runs on its own copy of that data dir. The mix ` +
      '(`bench/peak/mix.ts`): Zipf(1.1) store popularity, destinations around the store (median 2.5 km), order times ' +
      "on the lunch and dinner peaks inside each store's opening hours. CPU ms per request is per process (`up`: each " +
      'child), from /proc over the measured window.',
  ];
  for (const k of ['2', '3', '4', '5']) {
    if (!r.ran.includes(Number(k))) continue;
    out.push('', `### ${TITLES[k]}`, '', '| target | verdict | detail |', '|---|---|---|');
    for (const v of r.verdicts[k] ?? []) out.push(`| ${v.target} | **${v.status}** | ${v.detail} |`);
  }
  const runs = r.sessions.flatMap((s) => s.runs);
  for (const s of r.sessions.filter((x) => x.status !== 'ok'))
    out.push('', `> ${s.shape} failed: ${s.reason}`);
  if (runs.length) {
    out.push('', '### Fixed rates (latency ms)', '', ...fixedRows(runs), ...searchRows(runs));
  }
  const mixed = r.mixed?.result;
  if (mixed) {
    const t = mixed.eta.timeline ?? [];
    out.push(
      '',
      '### Scenario 5 timeline (/v1/eta, per second of the measured window)',
      '',
      `Promote ${mixed.newVersion}: call answered at ${mixed.promotedAtSec ?? '-'} s (${mixed.promoteMs ?? '-'} ms), every predictor on it at ${mixed.swappedAtSec ?? '-'} s. ` +
        `Events: ${n(mixed.events.achievedRate)} req/s x ${n(Math.round(mixed.events.itemsPerSec / Math.max(1, mixed.events.achievedRate)))} = ${n(mixed.events.itemsPerSec)} events/s, p99 ${mixed.events.latency.p99} ms.`,
      '',
      '| s | sent | ok | failed (non-2xx, errors, timeouts) | p50 | p99 | max |',
      '|---|---|---|---|---|---|---|',
      ...t.map((p) => {
        const mark =
          mixed.promotedAtSec !== undefined && p.second === Math.floor(mixed.promotedAtSec)
            ? ' ← promote'
            : '';
        return `| ${p.second}${mark} | ${p.sent} | ${p.ok} | ${p.non2xx + p.errors + p.timeouts} | ${p.p50} | ${p.p99} | ${p.max} |`;
      }),
    );
  }
  const sessions = [...r.sessions, ...(r.mixed ? [r.mixed.session] : [])];
  if (sessions.length) out.push(...memoryRows(sessions));
  for (const p of r.profiles) out.push(...profileLines(p));
  return out;
}
