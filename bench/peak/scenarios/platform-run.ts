/**
 * Runs scenarios 2-5 on the shapes they need, each shape started once on its own copy of a prepared data dir:
 *   embedded `etaserve start`   -> 2 (/v1/eta) and 4 (/v1/eta/batch)
 *   cluster, no Redis           -> 3 (/v1/eta) and 4 (/v1/eta/batch)
 *   cluster + Redis L2          -> 3 (/v1/eta)
 *   cluster with a challenger   -> 5 (ETAs + events, promotion mid-run)
 * then, where a target was missed, one fixed-rate run under `node --cpu-prof` per missed shape.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../lib/results.js';
import type { PeakConfig } from '../config.js';
import { newestProfile, summarizeProfile } from '../profile.js';
import type { ProfileSummary } from '../profile.js';
import { startRedis } from '../redis.js';
import { cityEnv, etaserveCli, prepareTemplate, startCluster, startEmbedded } from '../shapes.js';
import type { Shape } from '../shapes.js';
import { platformVerdicts } from '../platform-targets.js';
import type { Verdict } from '../targets.js';
import { runMixed } from './mixed.js';
import type { MixedResult } from './mixed.js';
import {
  brief,
  driveEndpoint,
  loadOptions,
  measured,
  probe,
  summarize,
  withShape,
} from './platform-common.js';
import type { RunSummary, ShapeSession } from './platform-common.js';
import { mixSource } from './platform.js';

export interface ProfileRun {
  shape: string;
  rate: number;
  result: RunSummary;
  /** Per process (embedded, gateway, predictor-1, ...). */
  profiles: Record<string, ProfileSummary>;
}

export interface PlatformResults {
  /** Scenario numbers run (2-5). */
  ran: number[];
  city: PeakConfig['platform']['city'];
  sessions: ShapeSession[];
  mixed?: { session: ShapeSession; result?: MixedResult };
  profiles: ProfileRun[];
  verdicts: Record<string, Verdict[]>;
}

export const BENCH_TMP = path.join(REPO_ROOT, 'bench', 'tmp', 'peak');

export async function runPlatform(
  cfg: PeakConfig,
  ran: number[],
  log: (line: string) => void,
): Promise<PlatformResults> {
  const cache = BENCH_TMP;
  // This harness's scratch: one copy of the template per shape, removed at the end (another harness may be running).
  const root = path.join(cache, 'runs', String(process.pid));
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  try {
    return await runAll(cfg, ran, cache, root, log);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function runAll(
  cfg: PeakConfig,
  ran: number[],
  cache: string,
  root: string,
  log: (line: string) => void,
): Promise<PlatformResults> {
  const p = cfg.platform;
  const out: PlatformResults = { ran, city: p.city, sessions: [], profiles: [], verdicts: {} };
  log(
    `  preparing the data dir: ${p.city.stores} stores, ${p.city.days} days of history, model v1 (cached in bench/tmp/peak)`,
  );
  const template = await prepareTemplate(cache, p.city);
  const has = (n: number): boolean => ran.includes(n);

  if (has(2) || has(4)) {
    out.sessions.push(
      await withShape(
        'embedded',
        template,
        root,
        (d) => startEmbedded(d, p.city),
        async (shape, catalog, s) => {
          if (has(2)) {
            await probe(shape, 'eta', catalog);
            log('  scenario 2: POST /v1/eta, embedded');
            s.runs.push(await driveEndpoint(cfg, shape, 'embedded', 'eta', p.embedded, catalog, log));
          }
          if (has(4)) {
            await probe(shape, 'batch', catalog);
            log('  scenario 4: POST /v1/eta/batch (50), embedded');
            s.runs.push(await driveEndpoint(cfg, shape, 'embedded', 'batch', p.batch, catalog, log));
          }
        },
        log,
      ),
    );
  }
  if (has(3) || has(4)) {
    out.sessions.push(
      await withShape(
        'cluster',
        template,
        root,
        (d) => startCluster(d, p.city),
        async (shape, catalog, s) => {
          if (has(3)) {
            await probe(shape, 'eta', catalog);
            log('  scenario 3: POST /v1/eta, cluster without Redis');
            s.runs.push(await driveEndpoint(cfg, shape, 'cluster', 'eta', p.cluster, catalog, log));
          }
          if (has(4)) {
            await probe(shape, 'batch', catalog);
            log('  scenario 4: POST /v1/eta/batch (50), cluster');
            s.runs.push(await driveEndpoint(cfg, shape, 'cluster', 'batch', p.batch, catalog, log));
          }
        },
        log,
      ),
    );
  }
  if (has(3)) {
    const redis = await startRedis(path.join(root, 'redis'));
    if (!redis) {
      out.sessions.push({
        shape: 'cluster+redis',
        status: 'failed',
        reason: 'redis-server not installed',
        pids: {},
        peakRssMb: {},
        runs: [],
      });
    } else {
      try {
        const start = async (d: string): Promise<Shape> => {
          const shape = await startCluster(d, p.city, { ETASERVE_CACHE_REDIS_URL: redis.url });
          shape.pids['redis'] = redis.pid;
          return shape;
        };
        out.sessions.push(
          await withShape(
            'cluster+redis',
            template,
            root,
            start,
            async (shape, catalog, s) => {
              await probe(shape, 'eta', catalog);
              log('  scenario 3: POST /v1/eta, cluster with Redis');
              s.runs.push(await driveEndpoint(cfg, shape, 'cluster+redis', 'eta', p.cluster, catalog, log));
            },
            log,
          ),
        );
      } finally {
        await redis.stop();
      }
    }
  }
  if (has(5)) {
    let result: MixedResult | undefined;
    const start = async (d: string): Promise<Shape> => {
      // A second version to promote mid-run: trained on the same data dir, registered as the challenger.
      log('  scenario 5: training model v2 (--no-promote) for the promotion');
      const trained = await etaserveCli(cityEnv(d, p.city), 'train', '--no-promote');
      const version = /registered (v\d+)/.exec(trained)?.[1];
      if (!version) throw new Error(`could not read the new version from: ${trained.slice(-400)}`);
      newVersion = version;
      return startCluster(d, p.city);
    };
    let newVersion = '';
    const session = await withShape(
      'cluster (mixed)',
      template,
      root,
      start,
      async (shape, catalog) => {
        await probe(shape, 'eta', catalog);
        log(
          `  scenario 5: /v1/eta ${p.mixed.etaRate}/s + /v1/events ${p.mixed.eventsPerSec} events/s, promote ${newVersion} mid-run`,
        );
        result = await runMixed(cfg, shape, catalog, newVersion, log);
      },
      log,
    );
    out.mixed = { session, ...(result ? { result } : {}) };
  }

  out.verdicts = platformVerdicts(cfg, out);
  if (p.profile.enabled) await profileMisses(cfg, template, root, path.join(cache, 'profiles'), out, log);
  return out;
}

/** One fixed-rate /v1/eta run under `node --cpu-prof` on each shape that missed a latency or rate target. */
export async function profileMisses(
  cfg: PeakConfig,
  template: string,
  root: string,
  /** Where the .cpuprofile files stay after the run (bench/tmp/peak/profiles), for a closer look. */
  profilesDir: string,
  out: PlatformResults,
  log: (line: string) => void,
): Promise<void> {
  const p = cfg.platform;
  const missed = (keys: string[]): boolean =>
    keys.some((k) => (out.verdicts[k] ?? []).some((v) => v.status === 'MISS'));
  const shapes: { name: string; start: (d: string, nodeArgs: string[]) => Promise<Shape> }[] = [];
  // --cpu-prof is refused in NODE_OPTIONS, and `up` spawns its children itself: only the embedded process (the same
  // gateway and predictor code, in one process) is profiled; the cluster's per-process CPU is in its fixed runs.
  if (missed(['2', '3', '4', '5'])) {
    shapes.push({ name: 'embedded', start: (d, args) => startEmbedded(d, p.city, {}, args) });
  }
  for (const sh of shapes) {
    const profDir = path.join(profilesDir, sh.name);
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
    let run: RunSummary | undefined;
    let pids: Record<string, number> = {};
    log(
      `  profiling ${sh.name}: /v1/eta at ${p.profile.rate}/s for ${p.profile.durationSec} s under node --cpu-prof`,
    );
    const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
    const session = await withShape(
      `${sh.name} (profiled)`,
      template,
      root,
      (d) => sh.start(d, nodeArgs),
      async (shape, catalog) => {
        pids = { ...shape.pids };
        const opts = {
          ...loadOptions(
            cfg,
            shape,
            '/v1/eta',
            mixSource({ kind: 'single', catalogFile: catalog }),
            p.profile.rate,
            `${sh.name} profiled`,
          ),
          durationSec: p.profile.durationSec,
        };
        const r = await measured(cfg, shape)(opts);
        log(`  ${sh.name} profiled: ${brief(r)}`);
        run = summarize(r);
      },
      log,
    );
    if (session.status !== 'ok' || !run) continue;
    const profiles: Record<string, ProfileSummary> = {};
    for (const [name, pid] of Object.entries(pids)) {
      const file = newestProfile(profDir, pid);
      if (file) profiles[name] = summarizeProfile(file);
    }
    out.profiles.push({ shape: sh.name, rate: p.profile.rate, result: run, profiles });
  }
}
