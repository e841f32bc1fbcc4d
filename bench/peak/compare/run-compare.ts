/**
 * `npm run bench:peak -- --compare` (issue 16): in ONE run, alternating, the commit before the change (`baseline`),
 * the working tree (`change`) and the seed stack peer (`seed`), all driven by bench/loadgen at the same rates.
 *
 *   prepare   each side once (baseline worktree + build, per-side template trained by its own CLI, seed build)
 *   start     every side, once: they stay up for every rate (idle sides show in each step's `others` cores)
 *   steps     for each rate, for each side in order: wait for load average <= 0.3 (at most 120 s), warm-up seconds
 *             (unrecorded) then the measured window, in one generator run
 *   stop      every side
 *   cold      baseline and change: a fresh cluster on a fresh data dir, driven the moment /readyz answers 200
 *   soak      (--soak-minutes N) embedded `etaserve start` of the change, RSS every 30 s
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CpuMeter } from '../../lib/cpu.js';
import { runMeasured } from '../../lib/measure.js';
import { machineInfo, today } from '../../lib/results.js';
import type { CompareConfig, CompareSide } from '../config.js';
import { BENCH_TMP } from '../scenarios/platform-run.js';
import { AUTH, runDataDir, startEmbedded } from '../shapes.js';
import type { Verdict } from '../targets.js';
import { compareVerdicts } from './report.js';
import {
  etaserveMix,
  prepareEtaserveSide,
  prepareSeed,
  startEtaserveCluster,
  upEtaserve,
  upSeed,
} from './sides.js';
import type { EtaserveSide, RunningSide } from './sides.js';
import { runStep, sideMemory, stepLine, waitLoadavg } from './step.js';
import type { StepResult } from './step.js';

export interface SideRecord {
  side: CompareSide;
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  info?: Record<string, unknown>;
  /** Process name -> pid while it was up for the steady steps. */
  pids?: Record<string, number>;
  /** Cores the side burned idle, every side up and none loaded (what an idle side adds to another's step). */
  idleCores?: number;
}

export interface ColdStart {
  side: CompareSide;
  status: 'ok' | 'failed';
  reason?: string;
  /** From spawning `up` to the gateway's /readyz answering 200. */
  readyAfterMs?: number;
  step?: StepResult;
  /** The same side's warm p99 at the same rate, this run. */
  steadyP99?: number;
  ratio?: number;
}

export interface SoakResult {
  minutes: number;
  rate: number;
  samples: { atSec: number; rssMb: number; hwmMb: number }[];
  finalRssMb: number;
  hwmMb: number;
  achievedRate: number;
  latency: StepResult['latency'];
  errors: number;
  timeouts: number;
  non2xx: number;
}

export interface CompareReport {
  kind: 'peak-compare';
  date: string;
  quick: boolean;
  machine: Record<string, unknown>;
  config: CompareConfig;
  sides: SideRecord[];
  steps: StepResult[];
  cold: ColdStart[];
  soak?: SoakResult;
  verdicts: Verdict[];
  notes: string[];
  /** Wall time of the whole run, s. */
  wallSec: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const firstLines = (e: unknown): string => (e as Error).message.split('\n').slice(0, 8).join(' / ');

export async function runCompare(cfg: CompareConfig, log: (l: string) => void): Promise<CompareReport> {
  const t0 = Date.now();
  const scratchRoot = path.join(BENCH_TMP, 'runs', `compare-${process.pid}`);
  rmSync(scratchRoot, { recursive: true, force: true });
  mkdirSync(scratchRoot, { recursive: true });
  const report: CompareReport = {
    kind: 'peak-compare',
    date: today(),
    quick: cfg.quick,
    machine: {},
    config: cfg,
    sides: [],
    steps: [],
    cold: [],
    verdicts: [],
    notes: [],
    wallSec: 0,
  };
  try {
    await runAll(cfg, report, scratchRoot, log);
  } finally {
    rmSync(scratchRoot, { recursive: true, force: true });
  }
  report.verdicts = compareVerdicts(report);
  report.machine = machineInfo();
  report.wallSec = Math.round((Date.now() - t0) / 1000);
  return report;
}

async function runAll(
  cfg: CompareConfig,
  report: CompareReport,
  scratchRoot: string,
  log: (l: string) => void,
): Promise<void> {
  // 1. Prepare every side (the slow part of a first run; cached afterwards).
  log('== prepare');
  const prepared = new Map<CompareSide, EtaserveSide | string>();
  for (const side of cfg.sides) {
    try {
      if (side === 'seed') prepared.set(side, await prepareSeed(log));
      else {
        const s = await prepareEtaserveSide(side, cfg, scratchRoot, log);
        for (const n of s.notes) log(`  NOTE ${n}`);
        report.notes.push(...s.notes);
        prepared.set(side, s);
      }
    } catch (e) {
      log(`  ${side} FAILED to prepare: ${firstLines(e)}`);
      report.sides.push({ side, status: 'failed', reason: `prepare: ${firstLines(e)}` });
    }
  }

  // 2-3. Steps, alternating: every side at each rate before the next rate.
  if (cfg.oneSideUp) await stepsOneSideUp(cfg, report, prepared, log);
  else await stepsAllUp(cfg, report, prepared, log);

  // 4. Cold start: fresh cluster, fresh data dir, load the moment /readyz says 200, no warm-up.
  if (cfg.cold.enabled) {
    log(`== cold start: ${cfg.cold.rate} req/s for ${cfg.cold.durationSec} s from /readyz 200, no warm-up`);
    for (const side of cfg.sides) {
      const p = prepared.get(side);
      if (side === 'seed' || !p || typeof p === 'string') continue;
      report.cold.push(await coldStart(cfg, p, report.steps, log));
    }
  }

  // 5. Soak: embedded `etaserve start` of the change.
  const change = prepared.get('change');
  if (cfg.soak.minutes > 0 && change && typeof change !== 'string') {
    log(`== soak: embedded etaserve start (change) at ${cfg.soak.rate}/s for ${cfg.soak.minutes} min`);
    try {
      report.soak = await soak(cfg, change, log);
    } catch (e) {
      log(`  soak FAILED: ${firstLines(e)}`);
      report.notes.push(`soak failed: ${firstLines(e)}`);
    }
  }
}

/** Starts a prepared side: the seed stack from its folder, an etaserve side from its template. */
function upPrepared(
  p: EtaserveSide | string,
  cfg: CompareConfig,
  log: (l: string) => void,
): Promise<RunningSide> {
  return typeof p === 'string' ? upSeed(p, log) : upEtaserve(p, cfg, log);
}

/** Every side started once and up for every rate; what an idle side costs the others is measured first. */
async function stepsAllUp(
  cfg: CompareConfig,
  report: CompareReport,
  prepared: Map<CompareSide, EtaserveSide | string>,
  log: (l: string) => void,
): Promise<void> {
  // 2. Start every prepared side once; they stay up for every rate.
  log('== start (every side stays up for every rate)');
  const running: RunningSide[] = [];
  try {
    for (const side of cfg.sides) {
      const p = prepared.get(side);
      if (!p) continue;
      try {
        const t = Date.now();
        const r = await upPrepared(p, cfg, log);
        running.push(r);
        report.sides.push({ side, status: 'ok', info: r.info, pids: r.roots });
        log(`  ${side} up in ${((Date.now() - t) / 1000).toFixed(1)} s: ${Object.keys(r.roots).join(', ')}`);
      } catch (e) {
        log(`  ${side} FAILED to start: ${firstLines(e)}`);
        report.sides.push({ side, status: 'failed', reason: `start: ${firstLines(e)}` });
      }
    }

    // What an idle side costs the others: every side up, none loaded.
    if (running.length) {
      const windowMs = cfg.quick ? 2000 : 10_000;
      const meters = running.map((r) => new CpuMeter({ ...r.roots }));
      for (const m of meters) m.start();
      await sleep(windowMs);
      running.forEach((r, i) => {
        const used = Object.values(meters[i]!.stop()).reduce((a, x) => a + x.after.cpuMs - x.before.cpuMs, 0);
        const rec = report.sides.find((x) => x.side === r.side);
        if (rec) rec.idleCores = Math.round((used / windowMs) * 1000) / 1000;
      });
      log(
        `  idle, cores over ${windowMs / 1000} s: ${report.sides.map((x) => `${x.side} ${x.idleCores ?? '–'}`).join(', ')}`,
      );
    }

    // 3. Steps, alternating: every side at each rate before the next rate.
    for (const rate of cfg.rates) {
      log(`== ${rate} req/s (warm-up ${cfg.warmupSec} s unrecorded, then ${cfg.durationSec} s measured)`);
      for (const side of running) {
        const quiet = await waitLoadavg(cfg.quiet.loadavg, cfg.quiet.maxWaitSec);
        try {
          const step = await runStep(cfg, side, 'steady', rate, cfg.durationSec, cfg.warmupSec, quiet);
          report.steps.push(step);
          log(`  ${stepLine(step)}`);
        } catch (e) {
          log(`  ${side.side} ${rate}/s FAILED: ${firstLines(e)}`);
          report.notes.push(`${side.side} at ${rate}/s: the generator failed: ${firstLines(e)}`);
        }
        await sleep(1000);
      }
    }
  } finally {
    log('== stop');
    for (const r of running) {
      try {
        await r.stop();
      } catch (e) {
        log(`  ${r.side}: stop failed: ${firstLines(e)}`);
      }
    }
  }
}

/** Each side started for each step and stopped after it: no idle side shares the machine with a step. */
async function stepsOneSideUp(
  cfg: CompareConfig,
  report: CompareReport,
  prepared: Map<CompareSide, EtaserveSide | string>,
  log: (l: string) => void,
): Promise<void> {
  log('== steps, one side up at a time (each started for its step, stopped after it)');
  for (const rate of cfg.rates) {
    log(`== ${rate} req/s (warm-up ${cfg.warmupSec} s unrecorded, then ${cfg.durationSec} s measured)`);
    for (const side of cfg.sides) {
      const p = prepared.get(side);
      if (!p) continue;
      let running: RunningSide | undefined;
      try {
        const t = Date.now();
        running = await upPrepared(p, cfg, log);
        if (!report.sides.some((x) => x.side === side))
          report.sides.push({ side, status: 'ok', info: running.info, pids: running.roots });
        log(`  ${side} up in ${((Date.now() - t) / 1000).toFixed(1)} s`);
        const quiet = await waitLoadavg(cfg.quiet.loadavg, cfg.quiet.maxWaitSec);
        const step = await runStep(cfg, running, 'steady', rate, cfg.durationSec, cfg.warmupSec, quiet);
        report.steps.push(step);
        log(`  ${stepLine(step)}`);
      } catch (e) {
        log(`  ${side} ${rate}/s FAILED: ${firstLines(e)}`);
        report.notes.push(`${side} at ${rate}/s: ${firstLines(e)}`);
        if (!report.sides.some((x) => x.side === side))
          report.sides.push({ side, status: 'failed', reason: firstLines(e) });
      } finally {
        await running?.stop().catch((e: unknown) => log(`  ${side}: stop failed: ${firstLines(e)}`));
      }
    }
  }
}

async function coldStart(
  cfg: CompareConfig,
  s: EtaserveSide,
  steps: StepResult[],
  log: (l: string) => void,
): Promise<ColdStart> {
  const dataDir = runDataDir(s.template, s.scratch, 'cold');
  const quiet = await waitLoadavg(cfg.quiet.loadavg, cfg.quiet.maxWaitSec);
  const spawned = Date.now();
  let shape: Awaited<ReturnType<typeof startEtaserveCluster>> | undefined;
  try {
    shape = await startEtaserveCluster(s, cfg, dataDir);
    // `up` prints its banner once the gateway is ready; /readyz is polled anyway, as a client would.
    for (;;) {
      const res = await fetch(`${shape.gateway}/readyz`).catch(() => undefined);
      await res?.body?.cancel();
      if (res?.status === 200) break;
      if (Date.now() - spawned > 240_000) throw new Error('/readyz never answered 200');
      await sleep(50);
    }
    const readyAfterMs = Date.now() - spawned;
    const side: RunningSide = {
      side: s.side,
      url: shape.gateway,
      path: '/v1/eta',
      headers: { ...AUTH },
      source: etaserveMix(s.catalogFile),
      roots: { ...shape.pids },
      info: {},
      stop: () => shape!.stop(),
    };
    const step = await runStep(cfg, side, 'cold', cfg.cold.rate, cfg.cold.durationSec, 0, quiet);
    const steady = steps.find((x) => x.side === s.side && x.kind === 'steady' && x.rate === cfg.cold.rate);
    const steadyP99 = steady?.latency.p99;
    const ratio = steadyP99 ? Math.round((step.latency.p99 / steadyP99) * 100) / 100 : undefined;
    log(
      `  ${stepLine(step)} | ready after ${(readyAfterMs / 1000).toFixed(1)} s` +
        (ratio !== undefined ? ` | p99 ${ratio}x steady (${steadyP99} ms)` : ''),
    );
    return {
      side: s.side,
      status: 'ok',
      readyAfterMs,
      step,
      ...(steadyP99 !== undefined ? { steadyP99 } : {}),
      ...(ratio !== undefined ? { ratio } : {}),
    };
  } catch (e) {
    log(`  ${s.side} cold start FAILED: ${firstLines(e)}`);
    return { side: s.side, status: 'failed', reason: firstLines(e) };
  } finally {
    await shape?.stop();
  }
}

/** The soak's bodies: a draw of their own. */
const SOAK_DRAW = 2_000_000;

async function soak(cfg: CompareConfig, s: EtaserveSide, log: (l: string) => void): Promise<SoakResult> {
  const dataDir = runDataDir(s.template, s.scratch, 'soak');
  const shape = await startEmbedded(dataDir, cfg.city);
  const samples: SoakResult['samples'] = [];
  const t0 = Date.now();
  const sample = (): void => {
    const m = sideMemory(shape.pids)['embedded'];
    if (m) samples.push({ atSec: Math.round((Date.now() - t0) / 1000), rssMb: m.rssMb, hwmMb: m.hwmMb });
  };
  try {
    sample();
    const timer = setInterval(() => {
      sample();
      const last = samples[samples.length - 1];
      if (last) log(`  soak ${last.atSec} s: RSS ${last.rssMb} MB (peak ${last.hwmMb} MB)`);
    }, cfg.soak.sampleSec * 1000);
    let r;
    try {
      r = await runMeasured(
        {
          url: shape.gateway,
          path: '/v1/eta',
          method: 'POST',
          headers: { ...AUTH },
          rate: cfg.soak.rate,
          durationSec: cfg.soak.minutes * 60,
          warmupSec: 0,
          connections: cfg.connections,
          timeoutMs: cfg.timeoutMs,
          source: etaserveMix(s.catalogFile)({
            draw: SOAK_DRAW,
            requests: cfg.soak.rate * cfg.soak.minutes * 60,
          }),
          label: `soak ${cfg.soak.rate}/s`,
        },
        { ...shape.pids },
      );
    } finally {
      clearInterval(timer);
    }
    sample();
    const last = samples[samples.length - 1]!;
    log(
      `  soak done: RSS ${last.rssMb} MB (peak ${last.hwmMb} MB), p99 ${r.latency.p99} ms, errors ${r.errors} timeouts ${r.timeouts} non-2xx ${r.non2xx}`,
    );
    return {
      minutes: cfg.soak.minutes,
      rate: cfg.soak.rate,
      samples,
      finalRssMb: last.rssMb,
      hwmMb: last.hwmMb,
      achievedRate: r.achievedRate,
      latency: r.latency,
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
    };
  } finally {
    await shape.stop();
  }
}
