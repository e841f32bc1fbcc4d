import { performance } from 'node:perf_hooks';
import {
  modelFromPortable,
  type Model,
  type ModelArtifact,
  type OnlineSegmentedRanges,
  type SegmentedRanges,
} from '../model/index.js';
import { FEATURE_NAMES } from '../features/index.js';
import { Gauge, Counter, Histogram, type Logger, type Metrics } from '../platform/index.js';
import { segmentedRangesOf, type ModelRegistry, type RegistryDatabase } from '../registry/index.js';
import { checkProbe } from './model-checks.js';
import { ModelLoader, ModelLoaderError, type LoadReply, type LoadSource } from './model-loader.js';

export interface ActiveModel {
  model: Model;
  version: string;
  /** Index of each output the ETA needs; -1 when the model does not predict it. */
  p10: number;
  p50: number;
  p90: number;
  loadedAt: string;
  /** Per-segment (zone, daypart) factors of the artifact: each answer's range goes through its segment. */
  ranges?: SegmentedRanges;
  /**
   * The online correction on top of `ranges`, as the accuracy join's feeder last saved it (OnlineRangesFollower);
   * absent until a save is loaded, when answers use a fresh state: the artifact's factors.
   */
  online?: OnlineSegmentedRanges;
  /** `savedAt` of the save `online` came from. */
  onlineSavedAt?: string;
}

export type LoadOutcome = { ok: true; active: ActiveModel } | { ok: false; reason: string };

/** Told when the champion or challenger changes: the drift monitor reloads its profile, rollout its slot. */
export type ModelChangeListener = (alias: 'champion' | 'challenger', active: ActiveModel | undefined) => void;

/**
 * The models a predictor serves: the champion, and the challenger when one is set (for shadow and canary). A new
 * version is loaded, validated (schema, feature spec, golden predictions, sane outputs) and warmed on a loader
 * thread, then swapped in with one reference assignment, so requests never see a half-loaded model, a bad artifact
 * never replaces a good one, and a cold load does not stall the event loop.
 */
export class ModelRuntime {
  private current: ActiveModel | undefined;
  private second: ActiveModel | undefined;
  private revision = '';
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private readonly refused = new Set<string>();
  private readonly listeners: ModelChangeListener[] = [];
  private readonly info: Gauge<'version'>;
  private readonly challengerInfo: Gauge<'version'>;
  private readonly failures: Counter<'reason'>;
  private readonly swaps: Counter<'alias'>;
  private readonly loadSeconds: Histogram<'thread'>;
  private readonly loader = new ModelLoader();
  private readonly crashes = new Map<string, number>();

  constructor(
    private readonly options: {
      registry?: ModelRegistry;
      /** The registry's database: the loader thread reads artifacts from it directly instead of through `registry`. */
      registryDatabase?: RegistryDatabase;
      modelFile?: string;
      /** For ETA serving the spec must be the shared feature definition; raw OIP serving takes any model. */
      requireEtaFeatures: boolean;
      warmupRows: number;
      pollMs: number;
      logger: Logger;
      metrics: Metrics;
    },
  ) {
    const registers = [options.metrics.registry];
    this.info = new Gauge({
      name: 'etaserve_model_info',
      help: 'The champion version a predictor serves (1 = active)',
      labelNames: ['version'],
      registers,
    });
    this.challengerInfo = new Gauge({
      name: 'etaserve_model_challenger_info',
      help: 'The challenger version a predictor holds for shadow and canary (1 = loaded)',
      labelNames: ['version'],
      registers,
    });
    this.failures = new Counter({
      name: 'etaserve_model_load_failures_total',
      help: 'Model versions refused at load',
      labelNames: ['reason'],
      registers,
    });
    this.swaps = new Counter({
      name: 'etaserve_model_swaps_total',
      help: 'Models swapped in, by alias',
      labelNames: ['alias'],
      registers,
    });
    this.loadSeconds = new Histogram({
      name: 'etaserve_model_load_seconds',
      help: 'Time to load a model version: on the loader thread (read to warm), and on the serving thread (hand-over)',
      labelNames: ['thread'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  get active(): ActiveModel | undefined {
    return this.current;
  }

  get challenger(): ActiveModel | undefined {
    return this.second;
  }

  onChange(listener: ModelChangeListener): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    if (this.options.modelFile) {
      const outcome = await this.prepare({ kind: 'file', path: this.options.modelFile }, 'file');
      if (!outcome.ok) throw new Error(`model file ${this.options.modelFile} refused: ${outcome.reason}`);
      this.swap('champion', outcome.active);
      return;
    }
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    void this.loader.close();
  }

  /** Checks the registry's aliases; loads the champion and challenger if they moved. Safe to call often. */
  async poll(): Promise<void> {
    if (this.loading) return this.loading;
    this.loading = this.pollOnce().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async pollOnce(): Promise<void> {
    const registry = this.options.registry;
    if (!registry) return;
    try {
      const revision = await registry.aliasesRevision();
      if (revision === this.revision) return;
      const [champion, challenger] = await Promise.all([
        registry.resolve('champion'),
        registry.resolve('challenger'),
      ]);
      if (champion && champion !== this.current?.version) {
        // Promoting the challenger costs nothing here: it was loaded, validated and warmed when it became one.
        if (this.second?.version === champion) this.swap('champion', this.second);
        else await this.load(registry, 'champion', champion);
      }
      if (challenger !== this.second?.version) {
        if (challenger) await this.load(registry, 'challenger', challenger);
        else this.swap('challenger', undefined);
      }
      this.revision = revision;
    } catch (e) {
      this.options.logger.warn({ err: e }, 'registry poll failed');
    }
  }

  private async load(
    registry: ModelRegistry,
    alias: 'champion' | 'challenger',
    version: string,
  ): Promise<void> {
    if (this.refused.has(version)) return;
    const where = this.options.registryDatabase;
    const source: LoadSource = where
      ? { kind: 'registry', where, version }
      : { kind: 'json', json: await registry.loadArtifact(version) };
    const outcome = await this.prepare(source, version);
    if (!outcome.ok) {
      this.refused.add(version);
      this.failures.inc({ reason: 'invalid' });
      this.options.logger.error(
        { version, alias, reason: outcome.reason },
        alias === 'champion'
          ? 'model refused; the current model keeps serving'
          : 'challenger refused; no shadow or canary until another is set',
      );
      if (alias === 'challenger') this.swap('challenger', undefined);
      return;
    }
    this.swap(alias, outcome.active);
  }

  private swap(alias: 'champion' | 'challenger', next: ActiveModel | undefined): void {
    const gauge = alias === 'champion' ? this.info : this.challengerInfo;
    const previous = alias === 'champion' ? this.current : this.second;
    if (previous === next) return;
    if (alias === 'champion') this.current = next;
    else this.second = next;
    if (previous) gauge.remove({ version: previous.version });
    if (next) {
      gauge.set({ version: next.version }, 1);
      this.swaps.inc({ alias });
    }
    this.options.logger.info(
      { alias, version: next?.version, previous: previous?.version },
      'model swapped in',
    );
    for (const listener of this.listeners) listener(alias, next);
  }

  /**
   * Loads, validates and warms a version beside the serving one; never touches the serving model. The loader thread
   * does the heavy part (read, parse, validate, compile, golden predictions, warm-up); this thread only wraps the
   * transferred arrays and runs a few probe predictions, timed in etaserve_model_load_seconds{thread="main"}.
   * Resolves to a verdict on the artifact; rejects when it could not be read, so a later poll tries again.
   */
  async prepare(source: LoadSource, version: string): Promise<LoadOutcome> {
    let reply: LoadReply;
    try {
      reply = await this.loader.load({
        source,
        expectFeatures: this.options.requireEtaFeatures ? [...FEATURE_NAMES] : null,
        warmupRows: this.options.warmupRows,
        probeRows: PROBE_ROWS,
      });
    } catch (e) {
      // A loader that dies twice on the same version (out of memory on a huge artifact) is a verdict on it.
      if (!(e instanceof ModelLoaderError) || e.code !== 'crashed') throw e;
      const crashes = (this.crashes.get(version) ?? 0) + 1;
      this.crashes.set(version, crashes);
      if (crashes < 2) throw e;
      return { ok: false, reason: e.message };
    }
    if (reply.timings) this.loadSeconds.observe({ thread: 'loader' }, reply.timings.total_ms / 1000);
    if (!reply.ok) {
      if (!reply.refused)
        throw new ModelLoaderError('unreadable', `model ${version} not read: ${reply.reason}`);
      return { ok: false, reason: reply.reason };
    }
    const started = performance.now();
    const bytes = reply.artifact;
    const model = modelFromPortable(
      reply.model,
      () => JSON.parse(new TextDecoder().decode(bytes)) as ModelArtifact,
    );
    const mismatch = checkProbe(model, reply.probe);
    const indexOf = (name: string): number => model.outputNames.indexOf(name);
    const mainMs = performance.now() - started;
    this.loadSeconds.observe({ thread: 'main' }, mainMs / 1000);
    this.options.logger.info(
      { version, ...reply.timings, main_ms: Math.round(mainMs * 1000) / 1000 },
      'model loaded off the event loop',
    );
    if (mismatch) return { ok: false, reason: mismatch };
    let ranges: SegmentedRanges | undefined;
    try {
      ranges = segmentedRangesOf(reply.calibration, model.outputNames);
    } catch (e) {
      return { ok: false, reason: `segment calibration: ${e instanceof Error ? e.message : String(e)}` };
    }
    return {
      ok: true,
      active: {
        model,
        version,
        p10: indexOf('p10'),
        p50: indexOf('p50'),
        p90: indexOf('p90'),
        loadedAt: new Date().toISOString(),
        ...(ranges ? { ranges } : {}),
      },
    };
  }
}

/** Probe rows predicted on this thread after the hand-over: enough to warm the model, small enough to not show. */
const PROBE_ROWS = 16;
