import { readFile } from 'node:fs/promises';
import { loadModel, type Model } from '../model/index.js';
import { FEATURE_NAMES } from '../features/index.js';
import { Gauge, Counter, type Logger, type Metrics } from '../platform/index.js';
import type { ModelRegistry } from '../registry/index.js';

export interface ActiveModel {
  model: Model;
  version: string;
  /** Index of each output the ETA needs; -1 when the model does not predict it. */
  p10: number;
  p50: number;
  p90: number;
  loadedAt: string;
}

export type LoadOutcome = { ok: true; active: ActiveModel } | { ok: false; reason: string };

interface Golden {
  rows: Array<Array<number | null>>;
  predictions: number[][];
}

/** Told when the champion or challenger changes: the drift monitor reloads its profile, rollout its slot. */
export type ModelChangeListener = (alias: 'champion' | 'challenger', active: ActiveModel | undefined) => void;

/**
 * The models a predictor serves: the champion, and the challenger when one is set (for shadow and canary). A new
 * version is loaded, validated (schema, feature spec, golden predictions, sane outputs) and warmed off to the side,
 * then swapped in with one reference assignment, so requests never see a half-loaded model and a bad artifact never
 * replaces a good one.
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

  constructor(
    private readonly options: {
      registry?: ModelRegistry;
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
      const outcome = await this.prepare(
        JSON.parse(await readFile(this.options.modelFile, 'utf8')) as unknown,
        'file',
      );
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
    const outcome = await this.prepare(await registry.loadArtifact(version), version);
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
   * Validates and warms an artifact; never touches the serving model. It runs beside live traffic on the same
   * event loop, so each step yields and the warm-up goes in small chunks: a swap must not stall requests.
   */
  async prepare(json: unknown, version: string): Promise<LoadOutcome> {
    await yieldToRequests();
    const { golden, ...artifact } = (typeof json === 'object' && json !== null ? json : {}) as Record<
      string,
      unknown
    > & { golden?: Golden };
    const loaded = loadModel(typeof json === 'object' && json !== null ? artifact : json);
    if (!loaded.ok) return { ok: false, reason: loaded.error.message };
    const model = loaded.value;
    await yieldToRequests();
    const names = model.spec.map((f) => f.name);
    if (this.options.requireEtaFeatures && names.join(',') !== FEATURE_NAMES.join(',')) {
      return {
        ok: false,
        reason: `feature spec [${names.join(', ')}] is not the ETA feature definition [${FEATURE_NAMES.join(', ')}]`,
      };
    }
    const indexOf = (name: string): number => model.outputNames.indexOf(name);
    const p50 = indexOf('p50');
    if (p50 < 0)
      return { ok: false, reason: `model has no p50 output (outputs: ${model.outputNames.join(', ')})` };
    if (golden) {
      const failure = checkGolden(model, golden);
      if (failure) return { ok: false, reason: failure };
    }
    const sanity = await warmUp(model, this.options.warmupRows);
    if (sanity) return { ok: false, reason: sanity };
    return {
      ok: true,
      active: {
        model,
        version,
        p10: indexOf('p10'),
        p50,
        p90: indexOf('p90'),
        loadedAt: new Date().toISOString(),
      },
    };
  }
}

function checkGolden(model: Model, golden: Golden): string | undefined {
  const out = new Float64Array(model.outputNames.length);
  for (let i = 0; i < golden.rows.length; i++) {
    // JSON carries a missing feature as null; the model sees NaN, as online.
    const row = Float64Array.from(golden.rows[i]!, (v) => (v === null ? Number.NaN : v));
    model.predict(row, out);
    const expected = golden.predictions[i]!;
    for (let k = 0; k < expected.length; k++) {
      const want = expected[k]!;
      if (Math.abs(out[k]! - want) > 1e-6 * Math.max(1, Math.abs(want))) {
        return `golden prediction ${i} output ${k}: got ${out[k]}, expected ${want}`;
      }
    }
  }
  return undefined;
}

/** Runs the model over plausible rows so the JIT has compiled the hot path before traffic arrives. */
const yieldToRequests = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Rows per warm-up step: a few milliseconds of predictions between two turns of the event loop. */
const WARMUP_CHUNK = 50;

async function warmUp(model: Model, rows: number): Promise<string | undefined> {
  const n = Math.max(1, rows);
  const width = model.spec.length;
  const input = new Float64Array(n * width);
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < width; f++) {
      const spec = model.spec[f]!;
      input[r * width + f] =
        spec.type === 'categorical' ? Math.floor(rand() * (spec.categories?.length ?? 1)) : rand() * 30;
    }
  }
  const nOut = model.outputNames.length;
  const out = new Float64Array(n * nOut);
  const single = new Float64Array(nOut);
  for (let from = 0; from < n; from += WARMUP_CHUNK) {
    const to = Math.min(n, from + WARMUP_CHUNK);
    model.predictBatch(
      input.subarray(from * width, to * width),
      to - from,
      out.subarray(from * nOut, to * nOut),
    );
    for (let r = from; r < Math.min(to, 500); r++)
      model.predict(input.subarray(r * width, (r + 1) * width), single);
    await yieldToRequests();
  }
  for (const v of out) if (!Number.isFinite(v)) return 'model predicts a non-finite value on warm-up rows';
  return undefined;
}
