/**
 * What scenarios 2-5 share: one load step with CPU accounting of every process of a shape, slimmed for the JSON,
 * fixed rates and a max-rate search on one endpoint, and a shape session (copy the data dir, start, read the
 * catalog, probe, work, stop).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { judgeStep, maxRateSearch, runLoad } from '../../loadgen/index.js';
import type { LoadOptions, SourceSpec, TimelinePoint } from '../../loadgen/index.js';
import { runMeasured } from '../../lib/measure.js';
import type { MeasuredResult } from '../../lib/measure.js';
import type { PeakConfig, PlatformEndpoint } from '../config.js';
import { AUTH, fetchCatalog, runDataDir } from '../shapes.js';
import type { Shape } from '../shapes.js';
import { mixSource } from './platform.js';

export type Endpoint = 'eta' | 'batch';
export const PATHS: Record<Endpoint, string> = { eta: '/v1/eta', batch: '/v1/eta/batch' };

/** One measured run without the histogram (the JSON stays readable); the timeline only where asked. */
export interface RunSummary {
  label: string;
  targetRate: number;
  achievedRate: number;
  itemsPerSec: number;
  scheduled: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCounts: Record<string, number>;
  latency: MeasuredResult['latency'];
  sendLagP99: number;
  usage: MeasuredResult['usage'];
  machine: MeasuredResult['machine'];
  timeline?: TimelinePoint[];
}

export function summarize(r: MeasuredResult, keepTimeline = false): RunSummary {
  return {
    label: r.label ?? '',
    targetRate: r.targetRate,
    achievedRate: r.achievedRate,
    itemsPerSec: r.itemsPerSec,
    scheduled: r.scheduled,
    ok: r.ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCounts: r.statusCounts,
    latency: r.latency,
    sendLagP99: r.sendLag.p99,
    usage: r.usage,
    machine: r.machine,
    ...(keepTimeline ? { timeline: r.timeline } : {}),
  };
}

export interface FixedPoint {
  rate: number;
  /** No errors, timeouts or non-2xx, achieved >= 97% (latency aside). */
  sustained: boolean;
  reasons: string[];
  result: RunSummary;
}

export interface SearchPoint {
  rate: number;
  pass: boolean;
  reasons: string[];
  attempt: number;
  p50: number;
  p95: number;
  p99: number;
  cpuMsPerRequest: Record<string, number>;
}

export interface EndpointRun {
  shape: string;
  endpoint: Endpoint;
  fixed: FixedPoint[];
  search?: {
    slo: { percentile: string; maxMs: number };
    maxRate: number;
    firstFailRate?: number;
    steps: SearchPoint[];
  };
}

export interface ShapeSession {
  shape: string;
  status: 'ok' | 'failed';
  reason?: string;
  /** Stores the catalog held (the mix draws from them). */
  stores?: number;
  pids: Record<string, number>;
  /** Peak RSS (VmHWM) per process at the end of the session. */
  peakRssMb: Record<string, number>;
  runs: EndpointRun[];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function brief(r: MeasuredResult | RunSummary): string {
  const cpu = Object.entries(r.usage)
    .filter(([k]) => k !== 'generator')
    .map(([k, u]) => `${k} ${u.cpuMsPerRequest}`)
    .join(', ');
  return (
    `achieved ${r.achievedRate}/s p50 ${r.latency.p50} p95 ${r.latency.p95} p99 ${r.latency.p99} max ${r.latency.max} ms` +
    (r.errors || r.timeouts || r.non2xx
      ? ` errors ${r.errors} timeouts ${r.timeouts} non2xx ${r.non2xx} ${JSON.stringify(r.statusCounts)}`
      : '') +
    ` | CPU ms/req: ${cpu} | others ${r.machine.othersCores} cores`
  );
}

export function loadOptions(
  cfg: PeakConfig,
  shape: Shape,
  pathName: string,
  source: SourceSpec,
  rate: number,
  label: string,
  itemsPerRequest = 1,
): LoadOptions {
  return {
    url: shape.gateway,
    path: pathName,
    method: 'POST',
    headers: { ...AUTH },
    rate,
    durationSec: cfg.durationSec,
    warmupSec: cfg.warmupSec,
    connections: cfg.connections,
    timeoutMs: cfg.timeoutMs,
    source,
    itemsPerRequest,
    label,
  };
}

export const measured = (cfg: PeakConfig, shape: Shape) => (o: LoadOptions) =>
  runMeasured(o, { ...shape.pids }, { quietWaitMs: cfg.quiet.waitMs, quietCores: cfg.quiet.cores });

/** Fixed rates, then (unless --no-search) the highest rate meeting the endpoint's p99 target. */
export async function driveEndpoint(
  cfg: PeakConfig,
  shape: Shape,
  shapeName: string,
  endpoint: Endpoint,
  ep: PlatformEndpoint,
  catalogFile: string,
  log: (line: string) => void,
): Promise<EndpointRun> {
  const source = mixSource(
    endpoint === 'eta' ? { kind: 'single', catalogFile } : { kind: 'batch', batchSize: 50, catalogFile },
  );
  const items = endpoint === 'batch' ? 50 : 1;
  const run = measured(cfg, shape);
  const out: EndpointRun = { shape: shapeName, endpoint, fixed: [] };
  // A fresh process runs cold (JIT, empty caches, lazy loads): one unrecorded run at the first rate warms it.
  const first = ep.fixedRates[0] ?? ep.search.startRate;
  const prime = await runLoad({
    ...loadOptions(cfg, shape, PATHS[endpoint], source, first, `${shapeName} ${endpoint} prime`, items),
    durationSec: cfg.quick ? 2 : 5,
    warmupSec: 0,
  });
  log(
    `  ${shapeName} ${endpoint} prime ${first}/s (not recorded): p99 ${prime.latency.p99} ms, non-2xx ${prime.non2xx} ${JSON.stringify(prime.statusCounts)}`,
  );
  for (const rate of ep.fixedRates) {
    const r = await run(
      loadOptions(cfg, shape, PATHS[endpoint], source, rate, `${shapeName} ${endpoint} ${rate}/s`, items),
    );
    const reasons = judgeStep(r, { percentile: 'p99', maxMs: Number.POSITIVE_INFINITY });
    out.fixed.push({ rate, sustained: reasons.length === 0, reasons, result: summarize(r) });
    log(`  ${shapeName} ${endpoint} ${rate}/s: ${brief(r)}`);
    await sleep(cfg.cooldownMs);
  }
  if (!cfg.search) return out;
  const s = ep.search;
  const res = await maxRateSearch<MeasuredResult>({
    base: loadOptions(cfg, shape, PATHS[endpoint], source, 0, `${shapeName} ${endpoint} search`, items),
    slo: s.slo,
    startRate: s.startRate,
    growth: s.growth,
    refineSteps: s.refineSteps,
    retries: s.retries,
    cooldownMs: cfg.cooldownMs,
    noisy: (r) => r.machine.othersCores > cfg.quiet.noisyOthersCores,
    noisyRetries: cfg.quick ? 0 : 1,
    run,
    onStep: (st) =>
      log(
        `  ${shapeName} ${endpoint} search ${st.rate}/s: ${st.pass ? 'pass' : `miss (${st.reasons.join('; ')})`} ${brief(st.result)}`,
      ),
  });
  out.search = {
    slo: res.slo,
    maxRate: res.maxRate,
    ...(res.firstFail ? { firstFailRate: res.firstFail.rate } : {}),
    steps: res.steps.map((st) => ({
      rate: st.rate,
      pass: st.pass,
      reasons: st.reasons,
      attempt: st.attempt,
      p50: st.result.latency.p50,
      p95: st.result.latency.p95,
      p99: st.result.latency.p99,
      cpuMsPerRequest: Object.fromEntries(
        Object.entries(st.result.usage).map(([k, u]) => [k, u.cpuMsPerRequest]),
      ),
    })),
  };
  log(`  ${shapeName} ${endpoint}: max ${res.maxRate}/s at ${s.slo.percentile} <= ${s.slo.maxMs} ms`);
  return out;
}

/** One request of each kind the session will send: a refused body fails loudly here, not as a wall of non-2xx. */
export async function probe(shape: Shape, endpoint: Endpoint, catalogFile: string): Promise<void> {
  const { createMix } = await import('../mix.js');
  const mix = createMix({ catalogFile, seed: 7 });
  const body = endpoint === 'eta' ? mix.etaBody() : mix.batchBody();
  const res = await fetch(`${shape.gateway}${PATHS[endpoint]}`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`probe ${PATHS[endpoint]} answered ${res.status}: ${text.slice(0, 400)}`);
  }
}

/**
 * Copies the template, starts the shape, reads its catalog, runs `work`, records peak RSS per process, stops.
 * A shape that does not start (or refuses the probe) is a failed session with the reason, never a throw.
 */
export async function withShape(
  name: string,
  template: string,
  root: string,
  start: (dataDir: string) => Promise<Shape>,
  work: (shape: Shape, catalogFile: string, session: ShapeSession) => Promise<void>,
  log: (line: string) => void,
): Promise<ShapeSession> {
  const session: ShapeSession = { shape: name, status: 'ok', pids: {}, peakRssMb: {}, runs: [] };
  const dataDir = runDataDir(template, root, name.replace(/\W+/g, '-'));
  let shape: Shape | undefined;
  try {
    log(`  starting ${name}`);
    shape = await start(dataDir);
    session.pids = { ...shape.pids };
    const catalogFile = path.join(dataDir, 'bench-catalog.json');
    mkdirSync(dataDir, { recursive: true });
    session.stores = await fetchCatalog(shape.gateway, catalogFile);
    log(`  ${name} up (${Object.keys(shape.pids).join(', ')}); catalog: ${session.stores} stores`);
    await work(shape, catalogFile, session);
  } catch (e) {
    session.status = 'failed';
    session.reason = (e as Error).message.split('\n').slice(0, 6).join(' / ');
    log(`  ${name} FAILED: ${session.reason}`);
  } finally {
    if (shape) {
      const { sampleTree } = await import('../../lib/cpu.js');
      for (const [proc, pid] of Object.entries(shape.pids)) {
        const s = sampleTree(pid);
        if (s) session.peakRssMb[proc] = Math.round(s.hwmKb / 102.4) / 10;
      }
      await shape.stop();
    }
  }
  return session;
}
