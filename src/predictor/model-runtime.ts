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
  rows: number[][];
  predictions: number[][];
}

/**
 * The model a predictor serves. A new version is loaded, validated (schema, feature spec, golden predictions,
 * sane outputs) and warmed off to the side, then swapped in with one reference assignment, so requests never see
 * a half-loaded model and a bad artifact never replaces a good one.
 */
export class ModelRuntime {
  private current: ActiveModel | undefined;
  private revision = '';
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private readonly info: Gauge<'version'>;
  private readonly failures: Counter<'reason'>;

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
    this.info = new Gauge({
      name: 'etaserve_model_info',
      help: 'The model version a predictor serves (1 = active)',
      labelNames: ['version'],
      registers: [options.metrics.registry],
    });
    this.failures = new Counter({
      name: 'etaserve_model_load_failures_total',
      help: 'Model versions refused at load',
      labelNames: ['reason'],
      registers: [options.metrics.registry],
    });
  }

  get active(): ActiveModel | undefined {
    return this.current;
  }

  async start(): Promise<void> {
    if (this.options.modelFile) {
      const outcome = this.prepare(JSON.parse(await readFile(this.options.modelFile, 'utf8')) as unknown, 'file');
      if (!outcome.ok) throw new Error(`model file ${this.options.modelFile} refused: ${outcome.reason}`);
      this.swap(outcome.active);
      return;
    }
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Checks the registry's aliases; loads the champion if it moved. Safe to call often. */
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
      const version = await registry.resolve('champion');
      if (!version || version === this.current?.version) {
        this.revision = revision;
        return;
      }
      const outcome = this.prepare(await registry.loadArtifact(version), version);
      this.revision = revision;
      if (!outcome.ok) {
        this.failures.inc({ reason: 'invalid' });
        this.options.logger.error({ version, reason: outcome.reason }, 'model refused; the current model keeps serving');
        return;
      }
      this.swap(outcome.active);
    } catch (e) {
      this.options.logger.warn({ err: e }, 'registry poll failed');
    }
  }

  private swap(next: ActiveModel): void {
    const previous = this.current;
    this.current = next;
    if (previous) this.info.remove({ version: previous.version });
    this.info.set({ version: next.version }, 1);
    this.options.logger.info({ version: next.version, previous: previous?.version }, 'model swapped in');
  }

  /** Validates and warms an artifact; never touches the serving model. */
  prepare(json: unknown, version: string): LoadOutcome {
    const { golden, ...artifact } = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown> & { golden?: Golden };
    const loaded = loadModel(typeof json === 'object' && json !== null ? artifact : json);
    if (!loaded.ok) return { ok: false, reason: loaded.error.message };
    const model = loaded.value;
    const names = model.spec.map((f) => f.name);
    if (this.options.requireEtaFeatures && names.join(',') !== FEATURE_NAMES.join(',')) {
      return { ok: false, reason: `feature spec [${names.join(', ')}] is not the ETA feature definition [${FEATURE_NAMES.join(', ')}]` };
    }
    const indexOf = (name: string): number => model.outputNames.indexOf(name);
    const p50 = indexOf('p50');
    if (p50 < 0) return { ok: false, reason: `model has no p50 output (outputs: ${model.outputNames.join(', ')})` };
    if (golden) {
      const failure = checkGolden(model, golden);
      if (failure) return { ok: false, reason: failure };
    }
    const sanity = warmUp(model, this.options.warmupRows);
    if (sanity) return { ok: false, reason: sanity };
    return { ok: true, active: { model, version, p10: indexOf('p10'), p50, p90: indexOf('p90'), loadedAt: new Date().toISOString() } };
  }
}

function checkGolden(model: Model, golden: Golden): string | undefined {
  const out = new Float64Array(model.outputNames.length);
  for (let i = 0; i < golden.rows.length; i++) {
    model.predict(golden.rows[i]!, out);
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
function warmUp(model: Model, rows: number): string | undefined {
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
      input[r * width + f] = spec.type === 'categorical' ? Math.floor(rand() * (spec.categories?.length ?? 1)) : rand() * 30;
    }
  }
  const out = new Float64Array(n * model.outputNames.length);
  model.predictBatch(input, n, out);
  const single = new Float64Array(model.outputNames.length);
  for (let r = 0; r < Math.min(n, 500); r++) model.predict(input.subarray(r * width, (r + 1) * width), single);
  for (const v of out) if (!Number.isFinite(v)) return 'model predicts a non-finite value on warm-up rows';
  return undefined;
}
