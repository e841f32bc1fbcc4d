/**
 * Per-process CPU time and memory from /proc (Linux): utime+stime from /proc/<pid>/stat (clock ticks, 100/s on
 * this kernel; USER_HZ is fixed at 100 on Linux x86-64), VmRSS and VmHWM (peak RSS) from /proc/<pid>/status.
 * Sample a set of pids before and after a run to get ms of CPU per request per service and peak RSS.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const CLOCK_TICKS_PER_SEC = 100;

export interface ProcSample {
  pid: number;
  /** utime + stime, ms (10 ms resolution). */
  cpuMs: number;
  rssKb: number;
  /** Peak RSS of the process so far (VmHWM). */
  hwmKb: number;
  /** performance-clock time of the sample, ms. */
  at: number;
}

function readStat(pid: number): { ppid: number; ticks: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: parse after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
}

function readStatusKb(pid: number): { rssKb: number; hwmKb: number } {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return { rssKb: 0, hwmKb: 0 };
  }
}

export function sampleProcess(pid: number): ProcSample | undefined {
  const stat = readStat(pid);
  if (!stat) return undefined;
  return {
    pid,
    cpuMs: (stat.ticks * 1000) / CLOCK_TICKS_PER_SEC,
    ...readStatusKb(pid),
    at: performance.now(),
  };
}

/** The pid and all its descendants (a wrapper shell, uvicorn's worker processes). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(name));
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** A service's processes summed: CPU adds up, RSS adds up, peak RSS is the sum of each process's peak. */
export function sampleTree(pid: number): ProcSample | undefined {
  const samples = processTree(pid)
    .map(sampleProcess)
    .filter((s): s is ProcSample => s !== undefined);
  if (samples.length === 0) return undefined;
  return samples.reduce((a, s) => ({
    pid,
    cpuMs: a.cpuMs + s.cpuMs,
    rssKb: a.rssKb + s.rssKb,
    hwmKb: a.hwmKb + s.hwmKb,
    at: a.at,
  }));
}

export interface ServiceUsage {
  pid: number;
  cpuMs: number;
  /** CPU ms per request (per completed request of the run). */
  cpuMsPerRequest: number;
  /** Share of one core over the window, percent. */
  cpuPercent: number;
  rssMb: number;
  peakRssMb: number;
}

const mb = (kb: number): number => Math.round(kb / 102.4) / 10;

/**
 * Samples named processes (with descendants) at `start()` and `stop(requests)`.
 *   const meter = new CpuMeter({ peer: pid, generator: genPid }); meter.start(); ...; meter.stop(n)
 */
export class CpuMeter {
  private before = new Map<string, ProcSample>();
  constructor(private readonly pids: Record<string, number>) {}

  add(name: string, pid: number): void {
    this.pids[name] = pid;
  }

  start(): void {
    this.before.clear();
    for (const [name, pid] of Object.entries(this.pids)) {
      const s = sampleTree(pid);
      if (s) this.before.set(name, s);
    }
  }

  /** Reads the after-samples now; pass the request count later through `usage`. */
  stop(): Record<string, { before: ProcSample; after: ProcSample }> {
    const out: Record<string, { before: ProcSample; after: ProcSample }> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const before = this.before.get(name);
      const after = sampleTree(pid);
      if (before && after) out[name] = { before, after };
    }
    return out;
  }
}

export function usageBetween(
  samples: Record<string, { before: ProcSample; after: ProcSample }>,
  requests: number,
): Record<string, ServiceUsage> {
  const out: Record<string, ServiceUsage> = {};
  for (const [name, { before, after }] of Object.entries(samples)) {
    const cpuMs = after.cpuMs - before.cpuMs;
    const wall = after.at - before.at;
    out[name] = {
      pid: after.pid,
      cpuMs,
      cpuMsPerRequest: requests > 0 ? Math.round((cpuMs / requests) * 10_000) / 10_000 : 0,
      cpuPercent: wall > 0 ? Math.round((cpuMs / wall) * 1000) / 10 : 0,
      rssMb: mb(after.rssKb),
      peakRssMb: mb(after.hwmKb),
    };
  }
  return out;
}

/** Whole-machine CPU time from /proc/stat: busy and total jiffies over all cores. */
export interface MachineSample {
  busyTicks: number;
  totalTicks: number;
  at: number;
}

export function sampleMachine(): MachineSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busyTicks: total - idle, totalTicks: total, at: performance.now() };
}

/** Cores busy between two samples (0..number of cores). */
export function busyCores(a: MachineSample, b: MachineSample): number {
  const wallSec = (b.at - a.at) / 1000;
  return wallSec > 0 ? (b.busyTicks - a.busyTicks) / CLOCK_TICKS_PER_SEC / wallSec : 0;
}

/**
 * On a shared machine, waits (up to `maxWaitMs`) until the whole machine is under `maxBusyCores` busy over a
 * `windowMs` sample, so a step does not start in the middle of someone else's build. Returns the last reading.
 */
export async function waitForQuiet(
  opts: { maxBusyCores?: number; windowMs?: number; maxWaitMs?: number } = {},
): Promise<{
  busyCores: number;
  waitedMs: number;
}> {
  const max = opts.maxBusyCores ?? 0.5;
  const windowMs = opts.windowMs ?? 1000;
  const start = performance.now();
  for (;;) {
    const a = sampleMachine();
    await new Promise((r) => setTimeout(r, windowMs));
    const busy = busyCores(a, sampleMachine());
    const waitedMs = Math.round(performance.now() - start);
    if (busy <= max || waitedMs >= (opts.maxWaitMs ?? 30_000))
      return { busyCores: Math.round(busy * 100) / 100, waitedMs };
  }
}
