/**
 * Issue 6's targets for scenarios 2-5, judged from one run: PASS, or MISS with by how much, or PENDING when the
 * run that would decide it did not happen (quick mode never runs the target rates; a shape that did not start).
 */
import type { PeakConfig, PlatformEndpoint } from './config.js';
import type { EndpointRun, FixedPoint, ShapeSession } from './scenarios/platform-common.js';
import type { PlatformResults } from './scenarios/platform-run.js';
import type { Verdict } from './targets.js';

const x = (v: number): string => `x${Math.round(v * 100) / 100}`;

function findRun(s: ShapeSession | undefined, endpoint: 'eta' | 'batch'): EndpointRun | undefined {
  return s?.runs.find((r) => r.endpoint === endpoint);
}

/** The endpoint's rate target, judged on the fixed run at that rate; the search's max says how far off. */
export function rateVerdict(
  label: string,
  session: ShapeSession | undefined,
  endpoint: 'eta' | 'batch',
  ep: PlatformEndpoint,
  unit = 'req/s',
): Verdict {
  const t = ep.target;
  const bounds = [t.p95Ms !== undefined ? `p95 <= ${t.p95Ms} ms` : '', `p99 <= ${t.p99Ms} ms`].filter(
    Boolean,
  );
  const target = `${label}: ${t.rate.toLocaleString('en-US')} ${unit} with ${bounds.join(', ')}, zero errors`;
  if (!session || session.status !== 'ok') {
    return {
      target,
      status: 'PENDING',
      detail: `shape did not run${session?.reason ? `: ${session.reason}` : ''}`,
    };
  }
  const run = findRun(session, endpoint);
  const at: FixedPoint | undefined = run?.fixed.find((f) => f.rate === t.rate);
  const max = run?.search?.maxRate;
  const maxText =
    max !== undefined
      ? `; max rate meeting p99 <= ${run!.search!.slo.maxMs} ms: ${max.toLocaleString('en-US')} ${unit} (${Math.round((max / t.rate) * 100)}% of target)`
      : '';
  if (!at)
    return { target, status: 'PENDING', detail: `the target rate was not run (quick mode?)${maxText}` };
  const l = at.result.latency;
  const misses: string[] = [...at.reasons];
  if (l.p99 > t.p99Ms) misses.push(`p99 ${l.p99} ms (${x(l.p99 / t.p99Ms)} the bound)`);
  if (t.p95Ms !== undefined && l.p95 > t.p95Ms)
    misses.push(`p95 ${l.p95} ms (${x(l.p95 / t.p95Ms)} the bound)`);
  const seen = `at ${t.rate.toLocaleString('en-US')}/s: achieved ${at.result.achievedRate}/s, p95 ${l.p95} ms, p99 ${l.p99} ms, non-2xx ${at.result.non2xx}, errors ${at.result.errors + at.result.timeouts}`;
  return misses.length === 0
    ? { target, status: 'PASS', detail: `${seen}${maxText}` }
    : { target, status: 'MISS', detail: `${misses.join('; ')}. ${seen}${maxText}` };
}

function memoryVerdict(target: string, mb: number | undefined, limit: number, where: string): Verdict {
  if (mb === undefined || mb === 0) return { target, status: 'PENDING', detail: `${where}: not measured` };
  return mb <= limit
    ? {
        target,
        status: 'PASS',
        detail: `${mb} MB peak RSS (${where}); ${Math.round((1 - mb / limit) * 100)}% under`,
      }
    : { target, status: 'MISS', detail: `${mb} MB peak RSS (${where}); ${x(mb / limit)} the limit` };
}

/** Peak RSS of each predictor at the end of the fixed run at `rate` (VmHWM: everything up to that run). */
function predictorRss(s: ShapeSession | undefined, rate: number): { mb?: number; where: string } {
  const at = findRun(s, 'eta')?.fixed.find((f) => f.rate === rate);
  if (!at) return { where: `no run at ${rate}/s` };
  const preds = Object.entries(at.result.usage).filter(([k]) => k.startsWith('predictor'));
  if (!preds.length) return { where: 'no predictor process sampled' };
  const worst = preds.reduce((a, b) => (b[1].peakRssMb > a[1].peakRssMb ? b : a));
  return { mb: worst[1].peakRssMb, where: `${worst[0]}, worst of ${preds.length}, after ${rate}/s` };
}

export function platformVerdicts(cfg: PeakConfig, r: PlatformResults): Record<string, Verdict[]> {
  const p = cfg.platform;
  const session = (name: string): ShapeSession | undefined => r.sessions.find((s) => s.shape === name);
  const out: Record<string, Verdict[]> = {};
  if (r.ran.includes(2)) {
    const emb = session('embedded');
    out['2'] = [
      rateVerdict('embedded POST /v1/eta', emb, 'eta', p.embedded),
      memoryVerdict(
        `embedded default under ${p.memory.embeddedMb} MB while serving`,
        emb?.peakRssMb['embedded'],
        p.memory.embeddedMb,
        'whole session',
      ),
    ];
  }
  if (r.ran.includes(3)) {
    out['3'] = [
      rateVerdict('cluster, no Redis, POST /v1/eta', session('cluster'), 'eta', p.cluster),
      rateVerdict('cluster + Redis, POST /v1/eta', session('cluster+redis'), 'eta', p.cluster),
    ];
    for (const name of ['cluster', 'cluster+redis']) {
      const m = predictorRss(session(name), p.cluster.target.rate);
      out['3'].push(
        memoryVerdict(
          `${name}: a predictor under ${p.memory.predictorMb} MB at ${p.cluster.target.rate}/s`,
          m.mb,
          p.memory.predictorMb,
          m.where,
        ),
      );
    }
  }
  if (r.ran.includes(4)) {
    out['4'] = [
      rateVerdict('embedded POST /v1/eta/batch (50)', session('embedded'), 'batch', p.batch, 'batches/s'),
      rateVerdict('cluster POST /v1/eta/batch (50)', session('cluster'), 'batch', p.batch, 'batches/s'),
    ];
  }
  if (r.ran.includes(5)) out['5'] = mixedVerdicts(cfg, r);
  return out;
}

function mixedVerdicts(cfg: PeakConfig, r: PlatformResults): Verdict[] {
  const m = cfg.platform.mixed;
  const spikeT = `no p99 spike over ${x(m.maxSpike)} during the promotion`;
  const lostT = 'zero lost events (acknowledged vs the ingest counter)';
  const errT = 'zero errors on /v1/eta and /v1/events during the run';
  const res = r.mixed?.result;
  if (!res) {
    const why = r.mixed?.session.reason ?? 'did not run';
    return [spikeT, lostT, errT].map((target) => ({ target, status: 'PENDING' as const, detail: why }));
  }
  const p = res.p99;
  const spike: Verdict =
    res.promotedAtSec === undefined
      ? { target: spikeT, status: 'PENDING', detail: `no promotion happened: ${res.errors.join('; ')}` }
      : {
          target: spikeT,
          // An overloaded run has no baseline to spike from: it cannot show the swap is smooth.
          status: p.spike <= m.maxSpike && res.eta.timeouts === 0 ? 'PASS' : 'MISS',
          detail: `${res.eta.timeouts ? `overloaded before the swap (${res.eta.timeouts} timeouts), so the ratio compares saturated seconds; ` : ''}p99 per second: median ${p.before} ms before, worst ${p.during} ms during (${x(p.spike)}), median ${p.after} ms after; promoted at ${res.promotedAtSec} s, every predictor on ${res.newVersion} at ${res.swappedAtSec ?? '?'} s`,
        };
  const ev = res.eventsCheck;
  const lost: Verdict = {
    target: lostT,
    status: ev.lost === 0 && ev.sent > 0 ? 'PASS' : ev.sent === 0 ? 'PENDING' : 'MISS',
    detail: `${ev.sent} events acknowledged in 2xx answers, ${ev.accepted} counted accepted by the ingest, ${ev.duplicates} duplicates, ${ev.lost} lost`,
  };
  const bad = (s: { non2xx: number; errors: number; timeouts: number }): number =>
    s.non2xx + s.errors + s.timeouts;
  const nErr = bad(res.eta) + bad(res.events);
  const errors: Verdict = {
    target: errT,
    status: nErr === 0 && res.errors.length === 0 ? 'PASS' : 'MISS',
    detail: `/v1/eta: ${res.eta.non2xx} non-2xx ${JSON.stringify(res.eta.statusCounts)}, ${res.eta.errors} errors, ${res.eta.timeouts} timeouts; /v1/events: ${res.events.non2xx} non-2xx, ${res.events.errors} errors, ${res.events.timeouts} timeouts${res.errors.length ? `; ${res.errors.join('; ')}` : ''}`,
  };
  return [spike, lost, errors];
}
