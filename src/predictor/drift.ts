import { Gauge, type Logger, type Metrics } from '../platform/index.js';
import { histogramBin, populationStability, type FeatureProfile } from '../registry/index.js';

export interface DriftOptions {
  /** PSI above which a feature has drifted and the model is marked stale. */
  threshold: number;
  /** Rows a window needs before its PSI is published (fewer say more about noise than drift). */
  minRows: number;
  intervalMs: number;
}

/**
 * Feature drift of live traffic against the champion's training distribution (its profile, stored at
 * registration): per-feature bin counts over a window of requests, PSI per feature when the window closes.
 * Counting is a binary search over ten edges per feature, cheap enough for every request.
 */
export class DriftMonitor {
  private profile: FeatureProfile | undefined;
  private counts: Float64Array[] = [];
  private rows = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly psi: Gauge<'feature'>;
  private readonly stale: Gauge;

  constructor(
    private readonly options: DriftOptions,
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.psi = new Gauge({
      name: 'etaserve_feature_psi',
      help: 'Population stability index of each feature: live requests against the champion’s training data',
      labelNames: ['feature'],
      registers: [metrics.registry],
    });
    this.stale = new Gauge({
      name: 'etaserve_model_stale',
      help: '1 when some feature’s PSI is above the drift threshold: the champion was trained on another population',
      registers: [metrics.registry],
    });
    this.stale.set(0);
  }

  start(): void {
    this.timer = setInterval(() => this.evaluate(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** A new champion brings its own training distribution; the window restarts. */
  setProfile(profile: FeatureProfile | undefined): void {
    this.profile = profile;
    this.counts = (profile?.features ?? []).map((f) => new Float64Array(f.edges.length + 2));
    this.rows = 0;
    this.psi.reset();
    this.stale.set(0);
  }

  /** `rows`: n feature vectors, row-major, in the profile's feature order. */
  observe(rows: Float64Array, n: number): void {
    const features = this.profile?.features;
    if (!features) return;
    const width = features.length;
    if (rows.length < n * width) return;
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < width; f++)
        this.counts[f]![histogramBin(features[f]!.edges, rows[r * width + f]!)]!++;
    }
    this.rows += n;
  }

  /** Publishes PSI per feature when the window has enough rows, then starts a new window. */
  evaluate(): Record<string, number> | undefined {
    const features = this.profile?.features;
    if (!features || this.rows < this.options.minRows) return undefined;
    const out: Record<string, number> = {};
    let worst = 0;
    features.forEach((h, f) => {
      const psi = populationStability(h, this.counts[f]!);
      out[h.name] = psi;
      worst = Math.max(worst, psi);
      this.psi.set({ feature: h.name }, psi);
      this.counts[f]!.fill(0);
    });
    const stale = worst > this.options.threshold;
    this.stale.set(stale ? 1 : 0);
    if (stale)
      this.logger.warn(
        { psi: out, threshold: this.options.threshold, rows: this.rows },
        'feature drift: the champion is stale',
      );
    this.rows = 0;
    return out;
  }
}
