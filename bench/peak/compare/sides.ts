/**
 * The three sides of `bench:peak --compare` and how each is prepared, started and stopped:
 *   baseline  the commit before the change: a detached worktree under bench/tmp/peak/ (npm ci builds it, cached by
 *             sha), its own `bin/etaserve.js up --predictors 2` on a template data dir trained by its own CLI;
 *   change    this checkout's compiled CLI (dist/), same shape, its own template;
 *   seed      ../shared/peers/seed-stack copied to bench/tmp/peak/seed-stack (it writes beside itself): build.sh once,
 *             up.sh / down.sh, pids from run/pids, bodies from its payloads.py (eta.jsonl), nginx's POST /v1/eta.
 * Every side is driven by bench/loadgen; each one's processes are named roots (their descendants count with them).
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { SourceSpec } from '../../loadgen/index.js';
import { REPO_ROOT } from '../../lib/results.js';
import type { CompareConfig, CompareSide } from '../config.js';
import { BENCH_TMP } from '../scenarios/platform-run.js';
import { probe } from '../scenarios/platform-common.js';
import { mixSource } from '../scenarios/platform.js';
import { AUTH, fetchCatalog, prepareTemplate, runDataDir, startCluster } from '../shapes.js';
import type { Shape } from '../shapes.js';
import { freePort } from '../../lib/proc.js';

const exec = promisify(execFile);
export const SEED_SOURCE = path.join(REPO_ROOT, '..', 'shared', 'peers', 'seed-stack');
export const SEED_DIR = path.join(BENCH_TMP, 'seed-stack');
const SEED_PY = process.env.PEER_PYTHON ?? '/usr/bin/python3';

/** A side that is up: where to send load, with what, and which processes are its own. */
/**
 * Which bodies a step sends: `draw` picks them (the same at one rate for every side) and `requests` is how many the
 * step sends, so no body repeats within it. A mix that cycled a small pool would find its own answers in the
 * response cache once they live longer than one cycle, which says nothing about real orders.
 */
export interface StepDraw {
  draw: number;
  requests: number;
}

/**
 * The simulated city's mix for one step: bodies of their own, none repeated within the step, up to a pool of
 * `MAX_POOL` (a soak): a cycle that long outlasts the response cache's TTL (150 s) up to 2,000 req/s.
 */
export function etaserveMix(catalogFile: string): RunningSide['source'] {
  return ({ draw, requests }) =>
    mixSource({
      kind: 'single',
      catalogFile,
      drawSeed: draw,
      poolSize: Math.min(MAX_POOL, Math.max(1000, requests)),
    });
}

const MAX_POOL = 300_000;

export interface RunningSide {
  side: CompareSide;
  url: string;
  path: string;
  headers: Record<string, string>;
  /** The bodies of one step (see `StepDraw`). */
  source(step: StepDraw): SourceSpec;
  /** Process name -> pid; each pid's descendants (nginx's worker, the pipeline's job) count with it. */
  roots: Record<string, number>;
  /** What it serves: commit, stores. */
  info: Record<string, unknown>;
  stop(): Promise<void>;
}

/** What a prepared etaserve side starts from. */
export interface EtaserveSide {
  side: 'baseline' | 'change';
  /** The checkout whose bin/etaserve.js runs. */
  root: string;
  commit: string;
  template: string;
  /** The catalog the mix reads, read back from this side's first start (same template: same stores). */
  catalogFile: string;
  /** Where fresh data dirs are copied (removed at the end of the run). */
  scratch: string;
  notes: string[];
}

async function run(cmd: string, args: string[], cwd: string, log: (l: string) => void): Promise<string> {
  log(`    $ ${cmd} ${args.join(' ')}  (in ${path.relative(REPO_ROOT, cwd) || '.'})`);
  try {
    const { stdout } = await exec(cmd, args, { cwd, maxBuffer: 64 << 20, env: process.env });
    return stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed: ${err.message}\n${(err.stdout ?? '') + (err.stderr ?? '')}`.slice(
        0,
        4000,
      ),
    );
  }
}

/** The full sha of a commit-ish of this repo. */
export async function resolveCommit(ref: string): Promise<string> {
  const { stdout } = await exec('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: REPO_ROOT });
  return stdout.trim();
}

/** The newest file under `dir` (mtime ms), skipping tests. */
function newestMtime(dir: string): { file: string; ms: number } {
  let best = { file: '', ms: 0 };
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.test.ts')) {
        const ms = statSync(p).mtimeMs;
        if (ms > best.ms) best = { file: p, ms };
      }
    }
  };
  walk(dir);
  return best;
}

/**
 * Is dist/ older than src/? The change side runs the compiled CLI: `--build` builds first, otherwise a stale dist
 * is a loud note in the report (the run measures what was last built, not the working tree).
 */
export function distStaleness(): string | undefined {
  const main = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) return 'dist/ is missing: run npm run build (or pass --build)';
  const built = statSync(main).mtimeMs;
  const newest = newestMtime(path.join(REPO_ROOT, 'src'));
  if (newest.ms <= built) return undefined;
  return `dist/ is older than src/ (${path.relative(REPO_ROOT, newest.file)} changed after the last build): the change side measured the last build, not the working tree; run npm run build (or pass --build)`;
}

/** The commit before the change as a detached worktree, installed and built once (cached by sha). */
export async function prepareBaselineCheckout(sha: string, log: (l: string) => void): Promise<string> {
  const dir = path.join(BENCH_TMP, `baseline-${sha.slice(0, 12)}`);
  if (!existsSync(path.join(dir, 'package.json'))) {
    log(`  baseline ${sha.slice(0, 12)}: git worktree add (first run only)`);
    mkdirSync(BENCH_TMP, { recursive: true });
    await run('git', ['worktree', 'add', '--detach', dir, sha], REPO_ROOT, log);
  }
  const head = (await exec('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
  if (head !== sha) throw new Error(`${path.relative(REPO_ROOT, dir)} is at ${head}, not ${sha}`);
  if (!existsSync(path.join(dir, 'node_modules'))) {
    log(`  baseline ${sha.slice(0, 12)}: npm ci (builds through prepare; first run only, minutes)`);
    await run('npm', ['ci', '--no-audit', '--no-fund'], dir, log);
  }
  if (!existsSync(path.join(dir, 'dist', 'cli', 'main.js'))) {
    log(`  baseline ${sha.slice(0, 12)}: npm run build`);
    await run('npm', ['run', 'build'], dir, log);
  }
  return dir;
}

/** A side's template (trained by its own CLI, cached) and the catalog it serves, read back once. */
export async function prepareEtaserveSide(
  side: 'baseline' | 'change',
  cfg: CompareConfig,
  scratchRoot: string,
  log: (l: string) => void,
): Promise<EtaserveSide> {
  const notes: string[] = [];
  let root = REPO_ROOT;
  let commit: string;
  let cache: string;
  if (side === 'baseline') {
    commit = await resolveCommit(cfg.baseline);
    root = await prepareBaselineCheckout(commit, log);
    cache = path.join(BENCH_TMP, `baseline-${commit.slice(0, 12)}-data`);
  } else {
    commit = (await exec('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT })).stdout.trim();
    const dirty = (
      await exec('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT })
    ).stdout.trim();
    if (dirty)
      notes.push(`change: working tree over ${commit.slice(0, 12)} with uncommitted changes in src/`);
    const stale = distStaleness();
    if (stale) notes.push(`change: ${stale}`);
    cache = BENCH_TMP;
  }
  mkdirSync(cache, { recursive: true });
  const t0 = Date.now();
  log(
    `  ${side}: template data dir (${cfg.city.stores} stores, ${cfg.city.days} days; trained once, then cached)`,
  );
  const template = await prepareTemplate(cache, cfg.city, root);
  if (Date.now() - t0 > 2000) log(`  ${side}: template ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const scratch = path.join(scratchRoot, side);
  mkdirSync(scratch, { recursive: true });
  return {
    side,
    root,
    commit,
    template,
    catalogFile: path.join(scratch, 'catalog.json'),
    scratch,
    notes,
  };
}

/** The cluster of an etaserve side on a fresh copy of its template: `up --predictors 2`, no Redis. */
export async function startEtaserveCluster(s: EtaserveSide, cfg: CompareConfig, tag: string): Promise<Shape> {
  const dataDir = runDataDir(s.template, s.scratch, tag);
  // A port of its own for the pipeline too: two clusters may be up at once.
  const pipelinePort = await freePort();
  return startCluster(dataDir, cfg.city, { ETASERVE_PIPELINE_PORT: String(pipelinePort) }, s.root);
}

/** Starts an etaserve side for the steady steps: reads its catalog (first time), probes one body. */
export async function upEtaserve(
  s: EtaserveSide,
  cfg: CompareConfig,
  log: (l: string) => void,
): Promise<RunningSide> {
  const shape = await startEtaserveCluster(s, cfg, runDataDir(s.template, s.scratch, 'steady'));
  try {
    if (!existsSync(s.catalogFile)) {
      const n = await fetchCatalog(shape.gateway, s.catalogFile);
      log(`  ${s.side}: catalog read back, ${n} stores`);
    }
    await probe(shape, 'eta', s.catalogFile);
  } catch (e) {
    await shape.stop();
    throw e;
  }
  return {
    side: s.side,
    url: shape.gateway,
    path: '/v1/eta',
    headers: { ...AUTH },
    source: etaserveMix(s.catalogFile),
    roots: { ...shape.pids },
    info: { commit: s.commit, stores: JSON.parse(readFileSync(s.catalogFile, 'utf8')).length as number },
    stop: () => shape.stop(),
  };
}

/** The seed stack copied beside the other sides' caches, built once, with its payloads written once. */
export async function prepareSeed(log: (l: string) => void): Promise<string> {
  if (!existsSync(SEED_SOURCE)) throw new Error('../shared/peers/seed-stack is not on this machine');
  if (!existsSync(path.join(SEED_DIR, 'up.sh'))) {
    log('  seed: copying ../shared/peers/seed-stack to bench/tmp/peak/seed-stack (it writes beside itself)');
    mkdirSync(BENCH_TMP, { recursive: true });
    cpSync(SEED_SOURCE, SEED_DIR, { recursive: true });
    execFileSync('chmod', ['-R', 'u+w', SEED_DIR]);
  }
  if (
    !existsSync(path.join(SEED_DIR, 'eta', 'model.json')) ||
    !existsSync(path.join(SEED_DIR, 'store', 'stores.sqlite'))
  ) {
    log('  seed: ./build.sh (first run only: Debian packages, store DB, model)');
    await run('./build.sh', [], SEED_DIR, log);
  }
  if (!existsSync(path.join(SEED_DIR, 'eta.jsonl'))) {
    await run(SEED_PY, ['payloads.py'], SEED_DIR, log);
  }
  return SEED_DIR;
}

function seedPids(dir: string): Record<string, number> {
  const file = path.join(dir, 'run', 'pids');
  if (!existsSync(file)) return {};
  const out: Record<string, number> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [name, pid] = line.trim().split(/\s+/);
    if (name && pid) out[name] = Number(pid);
  }
  return out;
}

/** Stops the seed stack by its pids, synchronously (also from the process's exit handler). */
function seedDownSync(dir: string): void {
  if (!existsSync(path.join(dir, 'run', 'pids'))) return;
  try {
    execFileSync('./down.sh', [], { cwd: dir, stdio: 'ignore' });
  } catch {
    // best effort
  }
}

export async function upSeed(dir: string, log: (l: string) => void): Promise<RunningSide> {
  if (Object.keys(seedPids(dir)).length) {
    log('  seed: run/pids left from an earlier run: ./down.sh first');
    seedDownSync(dir);
  }
  const onExit = (): void => seedDownSync(dir);
  process.once('exit', onExit);
  try {
    await run('./up.sh', [], dir, log);
  } catch (e) {
    seedDownSync(dir);
    throw e;
  }
  const roots = seedPids(dir);
  const url = 'http://127.0.0.1:18080';
  const first = readFileSync(path.join(dir, 'eta.jsonl'), 'utf8').split('\n', 1)[0]!;
  const res = await fetch(`${url}/v1/eta`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: first,
  });
  const text = await res.text();
  if (!res.ok) {
    seedDownSync(dir);
    throw new Error(`seed probe answered ${res.status}: ${text.slice(0, 300)}`);
  }
  return {
    side: 'seed',
    url,
    path: '/v1/eta',
    headers: {},
    source: () => ({ kind: 'jsonl', file: path.join(dir, 'eta.jsonl') }),
    roots,
    info: { stores: 300, bodies: 'eta.jsonl of its payloads.py (20,000, Zipf(1.1) over 300 stores)' },
    stop: async () => {
      process.removeListener('exit', onExit);
      await run('./down.sh', [], dir, () => undefined);
    },
  };
}
