/**
 * One load run with CPU and memory accounting of the services it drives: samples the named server processes, the
 * generator and the whole machine at the start and end of the measured window (warm-up excluded). What the rest of
 * the machine burned meanwhile (`machine.othersCores`) says how noisy the run was.
 */
import { runLoad } from '../loadgen/index.js';
import type { LoadOptions, LoadResult } from '../loadgen/index.js';
import { busyCores, CpuMeter, sampleMachine, usageBetween, waitForQuiet } from './cpu.js';
import type { MachineSample, ServiceUsage } from './cpu.js';

export interface MeasuredResult extends LoadResult {
  /** Per service (and `generator`): CPU ms per request, share of a core, RSS and peak RSS. */
  usage: Record<string, ServiceUsage>;
  machine: {
    /** Cores busy over the measured window, everything included. */
    busyCores: number;
    /** Cores busy with anything but the measured services and the generator: other people's work. */
    othersCores: number;
    /** Busy cores just before the run, and how long it waited for the machine to calm down. */
    busyBefore?: number;
    waitedMs?: number;
  };
}

export interface MeasureOptions {
  /** Before the run, wait up to this long for the machine to be under `quietCores` busy. Default 0: no wait. */
  quietWaitMs?: number;
  quietCores?: number;
  /** Called when the measured window opens (after the warm-up): to read the server's own counters then. */
  onMeasureStart?: () => void;
}

export async function runMeasured(
  options: LoadOptions,
  services: Record<string, number>,
  opts: MeasureOptions = {},
): Promise<MeasuredResult> {
  let before: { busyCores: number; waitedMs: number } | undefined;
  if (opts.quietWaitMs && opts.quietWaitMs > 0) {
    before = await waitForQuiet({ maxWaitMs: opts.quietWaitMs, maxBusyCores: opts.quietCores ?? 0.5 });
  }
  const meter = new CpuMeter({ ...services });
  let samples: ReturnType<CpuMeter['stop']> = {};
  let m0: MachineSample | undefined;
  let m1: MachineSample | undefined;
  const result = await runLoad(options, {
    onWorkerStarted: (pid) => meter.add('generator', pid),
    onMeasureStart: () => {
      opts.onMeasureStart?.();
      meter.start();
      m0 = sampleMachine();
    },
    onMeasureEnd: () => {
      samples = meter.stop();
      m1 = sampleMachine();
    },
  });
  const usage = usageBetween(samples, result.ok + result.non2xx);
  const busy = m0 && m1 ? busyCores(m0, m1) : 0;
  const ours = Object.values(usage).reduce((a, u) => a + u.cpuPercent / 100, 0);
  return {
    ...result,
    usage,
    machine: {
      busyCores: Math.round(busy * 100) / 100,
      othersCores: Math.round(Math.max(0, busy - ours) * 100) / 100,
      ...(before ? { busyBefore: before.busyCores, waitedMs: before.waitedMs } : {}),
    },
  };
}
