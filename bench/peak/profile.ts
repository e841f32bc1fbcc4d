/**
 * Where the server's CPU goes: a `.cpuprofile` written by `node --cpu-prof` (V8 sampling profiler), summarised as
 * the functions with the most self time, and the share of time in each area (node internals, fastify, the
 * model, ...) so the report can say what the next change should be.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  function: string;
  /** `file:line` with the repo root and node_modules trimmed. */
  where: string;
  selfMs: number;
  selfPercent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  top: HotFunction[];
  /** Self time by area (`src/<module>`, a package of node_modules, `node:` internals, GC, idle), percent. */
  areas: Record<string, number>;
}

function where(url: string, line: number): string {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  const short = nm >= 0 ? u.slice(nm + 'node_modules/'.length) : u.replace(/^.*?\/(dist|src)\//, '$1/');
  return `${short}:${line + 1}`;
}

function area(fn: string, url: string): string {
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(idle)' || fn === '(program)') return fn.slice(1, -1);
  if (!url) return 'native';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const m = /\/(?:dist|src)\/([^/]+)\//.exec(url);
  return m ? `etaserve ${m[1]}` : 'other';
}

export function summarizeProfile(file: string, topN = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    const key = `${fn}@${url}:${lineNumber}`;
    const e = self.get(key) ?? { fn, where: where(url, lineNumber), us: 0 };
    e.us += dt;
    self.set(key, e);
    const a = area(fn, url);
    areas.set(a, (areas.get(a) ?? 0) + dt);
    total += dt;
  });
  const busy = total - (areas.get('idle') ?? 0);
  const pct = (us: number): number => (busy > 0 ? Math.round((us / busy) * 1000) / 10 : 0);
  const top = [...self.values()]
    .filter((e) => e.fn !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({
      function: e.fn,
      where: e.where,
      selfMs: Math.round(e.us / 1000),
      selfPercent: pct(e.us),
    }));
  const areaPct = Object.fromEntries(
    [...areas.entries()]
      .filter(([a]) => a !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([a, us]) => [a, pct(us)]),
  );
  return { file: path.basename(file), totalMs: Math.round(busy / 1000), top, areas: areaPct };
}

/** The newest `.cpuprofile` of a process in a directory (`CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile`). */
export function newestProfile(dir: string, pid: number): string | undefined {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && f.split('.')[3] === String(pid))
    .sort();
  return files.length ? path.join(dir, files[files.length - 1]!) : undefined;
}
