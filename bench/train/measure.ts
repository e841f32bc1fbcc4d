/**
 * Runs one command (a training run) and watches its memory: the kernel's high-water mark of resident memory
 * (VmHWM in /proc/<pid>/status, the figure `/usr/bin/time -v` prints as "Maximum resident set size"), and the
 * largest resident size seen between two of its log lines, so the peak is pinned to a stage.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface StageMemory {
  /** Seconds since start at which the line was printed. */
  atSec: number;
  line: string;
  /** Largest VmRSS sampled since the previous line, MB. */
  maxRssMb: number;
}

export interface MeasuredRun {
  command: string;
  exitCode: number;
  wallSec: number;
  /** Peak resident memory over the whole run (VmHWM), MB. */
  peakRssMb: number;
  stages: StageMemory[];
  output: string;
}

function statusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

export async function measureRun(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; sampleMs?: number; echo?: boolean } = {},
): Promise<MeasuredRun> {
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  let peak = 0;
  let sinceLine = 0;
  const stages: StageMemory[] = [];
  const output: string[] = [];
  const sample = (): void => {
    const hwm = statusMb(pid, 'VmHWM');
    const rss = statusMb(pid, 'VmRSS');
    if (hwm !== undefined) peak = Math.max(peak, hwm);
    if (rss !== undefined) sinceLine = Math.max(sinceLine, rss);
  };
  const timer = setInterval(sample, options.sampleMs ?? 100);
  let partial = '';
  const onData = (chunk: Buffer): void => {
    sample();
    const text = partial + chunk.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (options.echo) console.log(`   | ${line}`);
      output.push(line);
      stages.push({
        atSec: Math.round((performance.now() - started) / 100) / 10,
        line: line.slice(0, 200),
        maxRssMb: sinceLine,
      });
      sinceLine = 0;
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exitCode = await new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? 1)));
  clearInterval(timer);
  return {
    command: [command, ...args].join(' '),
    exitCode,
    wallSec: Math.round((performance.now() - started) / 100) / 10,
    peakRssMb: peak,
    stages,
    output: output.slice(-40).join('\n'),
  };
}
