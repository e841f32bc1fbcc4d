/**
 * One step of `bench:peak --compare`: wait for a quiet machine (1-minute load average), then one generator run at
 * the rate (its warm-up seconds unrecorded, then the measured window), with CPU summed over every process of the
 * side and each process's RSS and peak RSS at the end of the step.
 */
import os from 'node:os';
import type { LatencySummary, LoadOptions, TimelinePoint } from '../../loadgen/index.js';
import { processTree, sampleProcess } from '../../lib/cpu.js';
import { runMeasured } from '../../lib/measure.js';
import type { CompareConfig, CompareSide } from '../config.js';
import type { RunningSide } from './sides.js';

export interface QuietReading {
  /** 1-minute load average when the step started. */
  loadBefore: number;
  /** It was at or under the bound (otherwise the wait ran out). */
  quiet: boolean;
  waitedSec: number;
}

export interface ProcessMemory {
  pid: number;
  rssMb: number;
  hwmMb: number;
}

export interface StepResult {
  side: CompareSide;
  kind: 'steady' | 'cold';
  rate: number;
  warmupSec: number;
  durationSec: number;
  quiet: QuietReading;
  achievedRate: number;
  scheduled: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCounts: Record<string, number>;
  errorCodes: Record<string, number>;
  /** 2xx latency from the intended send time, ms. */
  latency: LatencySummary;
  /** CPU ms per request (2xx + non-2xx) summed over every process of the side. */
  cpuMsPerRequest: number;
  /** Cores the side used over the window. */
  serverCores: number;
  cpuByProcess: Record<string, { cpuMsPerRequest: number; cpuPercent: number }>;
  generatorCores: number;
  /** Cores busy with anything but the side and the generator (other people's work, idle sides). */
  othersCores: number;
  busyCores: number;
  /** Each process of the side (descendants as `<name>.<n>`) at the end of the step. */
  memory: Record<string, ProcessMemory>;
  timeline?: TimelinePoint[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round2 = (x: number): number => Math.round(x * 100) / 100;
const mb = (kb: number): number => Math.round(kb / 102.4) / 10;

/** Waits until the 1-minute load average is <= `max` (polled every 2 s), at most `maxWaitSec`. */
export async function waitLoadavg(max: number, maxWaitSec: number): Promise<QuietReading> {
  const start = Date.now();
  for (;;) {
    const load = os.loadavg()[0]!;
    const waited = (Date.now() - start) / 1000;
    if (load <= max || waited >= maxWaitSec)
      return { loadBefore: round2(load), quiet: load <= max, waitedSec: Math.round(waited) };
    await sleep(2000);
  }
}

/** RSS and VmHWM of every process of the side: each root and its descendants. */
export function sideMemory(roots: Record<string, number>): Record<string, ProcessMemory> {
  const out: Record<string, ProcessMemory> = {};
  for (const [name, pid] of Object.entries(roots)) {
    processTree(pid).forEach((p, i) => {
      const s = sampleProcess(p);
      if (s) out[i === 0 ? name : `${name}.${i}`] = { pid: p, rssMb: mb(s.rssKb), hwmMb: mb(s.hwmKb) };
    });
  }
  return out;
}

/** Cold steps draw bodies apart from the steady ones at the same rate. */
const COLD_DRAW = 1_000_000;

export async function runStep(
  cfg: CompareConfig,
  side: RunningSide,
  kind: 'steady' | 'cold',
  rate: number,
  durationSec: number,
  warmupSec: number,
  quiet: QuietReading,
): Promise<StepResult> {
  const options: LoadOptions = {
    url: side.url,
    path: side.path,
    method: 'POST',
    headers: side.headers,
    rate,
    durationSec,
    warmupSec,
    connections: cfg.connections,
    timeoutMs: cfg.timeoutMs,
    source: side.source({
      draw: kind === 'cold' ? COLD_DRAW + rate : rate,
      requests: Math.ceil(rate * (durationSec + warmupSec)),
    }),
    label: `${side.side} ${kind} ${rate}/s`,
    timeline: true,
  };
  const r = await runMeasured(options, { ...side.roots });
  const memory = sideMemory(side.roots);
  const requests = r.ok + r.non2xx;
  const server = Object.entries(r.usage).filter(([k]) => k !== 'generator');
  const cpuMs = server.reduce((a, [, u]) => a + u.cpuMs, 0);
  return {
    side: side.side,
    kind,
    rate,
    warmupSec,
    durationSec,
    quiet,
    achievedRate: r.achievedRate,
    scheduled: r.scheduled,
    ok: r.ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCounts: r.statusCounts,
    errorCodes: r.errorCodes,
    latency: r.latency,
    cpuMsPerRequest: requests > 0 ? Math.round((cpuMs / requests) * 10_000) / 10_000 : 0,
    serverCores: round2(server.reduce((a, [, u]) => a + u.cpuPercent / 100, 0)),
    cpuByProcess: Object.fromEntries(
      server.map(([k, u]) => [k, { cpuMsPerRequest: u.cpuMsPerRequest, cpuPercent: u.cpuPercent }]),
    ),
    generatorCores: round2((r.usage['generator']?.cpuPercent ?? 0) / 100),
    othersCores: r.machine.othersCores,
    busyCores: r.machine.busyCores,
    memory,
    ...(kind === 'cold' ? { timeline: r.timeline } : {}),
  };
}

export function stepLine(s: StepResult): string {
  const l = s.latency;
  const bad = s.errors || s.timeouts || s.non2xx;
  return (
    `${s.side.padEnd(8)} ${s.kind} ${s.rate}/s: achieved ${s.achievedRate}/s p50 ${l.p50} p95 ${l.p95} p99 ${l.p99} ` +
    `p99.9 ${l.p999} max ${l.max} ms` +
    (bad
      ? ` | errors ${s.errors} timeouts ${s.timeouts} non-2xx ${s.non2xx} ${JSON.stringify(s.statusCounts)}`
      : '') +
    ` | CPU ${s.cpuMsPerRequest} ms/req (${s.serverCores} cores) | load before ${s.quiet.loadBefore}` +
    `${s.quiet.quiet ? '' : ' (not quiet)'} others ${s.othersCores} cores`
  );
}
