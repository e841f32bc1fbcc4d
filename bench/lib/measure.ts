/**
 * One load run with CPU and memory accounting of the services it drives: samples the named server processes and
 * the generator at the start and end of the measured window (warm-up excluded).
 */
import { runLoad } from '../loadgen/index.js';
import type { LoadOptions, LoadResult } from '../loadgen/index.js';
import { CpuMeter, usageBetween } from './cpu.js';
import type { ServiceUsage } from './cpu.js';

export interface MeasuredResult extends LoadResult {
  /** Per service (and `generator`): CPU ms per request, share of a core, RSS and peak RSS. */
  usage: Record<string, ServiceUsage>;
}

export async function runMeasured(
  options: LoadOptions,
  services: Record<string, number>,
): Promise<MeasuredResult> {
  const meter = new CpuMeter({ ...services });
  let samples: ReturnType<CpuMeter['stop']> = {};
  const result = await runLoad(options, {
    onWorkerStarted: (pid) => meter.add('generator', pid),
    onMeasureStart: () => meter.start(),
    onMeasureEnd: () => (samples = meter.stop()),
  });
  return { ...result, usage: usageBetween(samples, result.ok + result.non2xx) };
}
