import { Gauge, type Logger, type Metrics } from '../platform/index.js';
import {
  histogramBin,
  hourOfWeek,
  HOURS_OF_WEEK,
  populationStability,
  type FeatureProfile,
} from '../registry/index.js';

export interface DriftOptions {
  /** PSI above which a feature has drifted and the model is marked stale. */
  threshold: number;
  /** Live rows a feature needs in the window before its PSI is judged (fewer say more about noise than drift). */
  minRows: number;
  /** How often the window is judged. */
  intervalMs: number;
  /** The span of live traffic judged: the last `windowMs`, in 60 slices. */
  windowMs: number;
  /**
   * Training rows an hour needs to be a reference: an hour of week with fewer falls back to the same hour on every
   * weekday, and a live row whose hour has fewer there too is left out (counted as uncovered). Default 200.
   */
  minReferenceRows?: number;
  /** A drifting feature is clear again below this share of the threshold, so a PSI near it does not flap. */
  clearRatio?: number;
  /** The clock (tests drive a simulated one). */
  now?: () => number;
}

export type DriftStatus = 'ok' | 'drift' | 'insufficient';

/** One feature's verdict; snake_case as the admin API and the console read it. */
export interface FeatureDrift {
  /** null while the window has fewer than `min_samples` rows for it. */
  psi: number | null;
  status: DriftStatus;
  samples: number;
  min_samples: number;
  /** The PSI this feature must exceed: the profile's calibrated one (never below the configured), else the configured. */
  threshold: number;
}

export interface DriftReport {
  at_ms: number;
  window_ms: number;
  /** The configured threshold; each feature's own is in `features` (higher where training calibrated it). */
  threshold: number;
  /** True when the profile carries per-feature thresholds measured on its training days. */
  calibrated: boolean;
  /**
   * `hour_of_week`: each live row against training rows of its own local hour of week (or the same hour on all
   * weekdays when that hour has too few); `all_hours`: the profile predates per-hour histograms, so every row is
   * compared with the whole training set and time-of-day effects can look like drift.
   */
  basis: 'hour_of_week' | 'all_hours';
  state: DriftStatus;
  stale: boolean;
  /** Live rows in the window, and how many were compared at each reference level. */
  rows: number;
  reference: { hour_of_week: number; hour_of_day: number; all_hours: number; uncovered: number };
  features: Record<string, FeatureDrift>;
  /** The local hour and weekday are what rows are matched on: a window at 20:00 holds only 20:00 by construction. */
  not_compared: string[];
}

/** What drift reads of a profile's calibration (src/pipeline/training/profile.ts writes it; absent in old ones). */
type CalibratedProfile = FeatureProfile & {
  driftCalibration?: { thresholds?: Record<string, number>; pooled_by_hour_of_day?: string[] };
};

const TIME_FEATURES = ['hour_local', 'weekday_local'];
const SLICES = 60;
// Reference keys of a live row: 0..167 its hour of week, 168..191 its hour of day, 192 all hours, 193 uncovered.
const HOD_KEY = HOURS_OF_WEEK;
const ALL_KEY = HOURS_OF_WEEK + 24;
const UNCOVERED_KEY = ALL_KEY + 1;
const KEYS = UNCOVERED_KEY + 1;

interface Slice {
  id: number;
  /** Bin counts of every compared feature, concatenated at `offsets`. */
  bins: Float64Array;
  /** Live rows per reference key. */
  refs: Float64Array;
}

/** The training side, prepared once per profile: shares per reference key and feature. */
interface Reference {
  profile: FeatureProfile;
  /** Indices of the compared features (all but the time features when time-conditioned). */
  compared: number[];
  offsets: number[];
  binsTotal: number;
  timed: boolean;
  hourCol: number;
  weekdayCol: number;
  /** Reference key of each hour of week (its own, its hour of day, or uncovered). */
  keyOfHour: Int16Array;
  /** Per compared feature: compared with the same hour on every weekday (the profile's calibration says which). */
  pooled: boolean[];
  /** PSI threshold per compared feature. */
  thresholds: number[];
  calibrated: boolean;
  /** shares[key][compared feature] for the keys in use; undefined where the key has no reference. */
  shares: Array<Float64Array[] | undefined>;
}

/**
 * Feature drift of live traffic against the champion's training distribution (its profile, stored at
 * registration). Like with like: a live row is compared with the training rows of its own local hour of week, so the
 * expected histogram of a window is the mix of those hours' histograms in the window's proportions; the hour and
 * weekday themselves are the matching key, not compared. Counting is a binary search per feature into one-minute
 * slices of a sliding window; every interval the window is judged, a feature only with enough rows, and the log
 * hears about it only when the verdict changes.
 */
export class DriftMonitor {
  private ref: Reference | undefined;
  private slices: Slice[] = [];
  private readonly sliceMs: number;
  private timer: NodeJS.Timeout | undefined;
  private state: DriftStatus = 'insufficient';
  private lastFeatureStatus = new Map<string, DriftStatus>();
  private last: DriftReport | undefined;
  private readonly psi: Gauge<'feature'>;
  private readonly samples: Gauge<'feature'>;
  private readonly minSamples: Gauge;
  private readonly thresholdGauge: Gauge<'feature'>;
  private readonly status: Gauge<'feature' | 'status'>;
  private readonly conditioned: Gauge;
  private readonly stale: Gauge;
  private readonly now: () => number;
  private readonly minReferenceRows: number;
  private readonly clearRatio: number;

  constructor(
    private readonly options: DriftOptions,
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.now = options.now ?? Date.now;
    this.minReferenceRows = options.minReferenceRows ?? 200;
    this.clearRatio = options.clearRatio ?? 0.8;
    this.sliceMs = Math.max(1, Math.ceil(options.windowMs / SLICES));
    const registers = [metrics.registry];
    this.psi = new Gauge({
      name: 'etaserve_feature_psi',
      help: 'Population stability index of each feature over the drift window: live requests against the champion’s training rows of the same hours (absent while samples are too few)',
      labelNames: ['feature'],
      registers,
    });
    this.samples = new Gauge({
      name: 'etaserve_feature_drift_samples',
      help: 'Live rows compared for each feature in the drift window',
      labelNames: ['feature'],
      registers,
    });
    this.minSamples = new Gauge({
      name: 'etaserve_feature_drift_min_samples',
      help: 'Rows a feature needs in the drift window before its PSI is judged',
      registers,
    });
    this.thresholdGauge = new Gauge({
      name: 'etaserve_feature_drift_threshold',
      help: 'PSI above which each feature is drift: calibrated on the champion’s training days (day-to-day variation), never below the configured threshold',
      labelNames: ['feature'],
      registers,
    });
    this.status = new Gauge({
      name: 'etaserve_feature_drift_status',
      help: '1 for each feature’s current drift verdict (status: ok, drift, insufficient)',
      labelNames: ['feature', 'status'],
      registers,
    });
    this.conditioned = new Gauge({
      name: 'etaserve_drift_time_conditioned',
      help: '1 when live traffic is compared with training rows of the same hours; 0 when the champion’s profile predates per-hour histograms (compared with all hours)',
      registers,
    });
    this.stale = new Gauge({
      name: 'etaserve_model_stale',
      help: '1 when some feature’s PSI is above the drift threshold: the champion was trained on another population',
      registers,
    });
    this.stale.set(0);
    this.minSamples.set(options.minRows);
  }

  start(): void {
    this.timer = setInterval(() => this.evaluate(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The last verdict, for whoever shows it; undefined before the first evaluation of this profile. */
  get report(): DriftReport | undefined {
    return this.last;
  }

  /** A new champion brings its own training distribution; the window restarts. */
  setProfile(profile: FeatureProfile | undefined): void {
    this.ref = profile ? this.prepare(profile) : undefined;
    this.slices = [];
    this.state = 'insufficient';
    this.lastFeatureStatus.clear();
    this.last = undefined;
    this.psi.reset();
    this.samples.reset();
    this.thresholdGauge.reset();
    this.status.reset();
    this.stale.set(0);
    this.conditioned.set(this.ref?.timed ? 1 : 0);
    if (profile && !this.ref?.timed)
      this.logger.info(
        'the champion’s training profile has no per-hour histograms: drift compares live traffic with all hours',
      );
  }

  /** `rows`: n feature vectors, row-major, in the profile's feature order. */
  observe(rows: Float64Array, n: number): void {
    const ref = this.ref;
    if (!ref) return;
    const width = ref.profile.features.length;
    if (rows.length < n * width) return;
    const slice = this.sliceAt(this.now());
    for (let r = 0; r < n; r++) {
      const base = r * width;
      let key = ALL_KEY;
      if (ref.timed) {
        const h = hourOfWeek(rows[base + ref.weekdayCol]!, rows[base + ref.hourCol]!);
        key = h < 0 ? UNCOVERED_KEY : ref.keyOfHour[h]!;
      }
      slice.refs[key]!++;
      if (key === UNCOVERED_KEY) continue;
      for (let c = 0; c < ref.compared.length; c++) {
        const f = ref.compared[c]!;
        slice.bins[ref.offsets[c]! + histogramBin(ref.profile.features[f]!.edges, rows[base + f]!)]!++;
      }
    }
  }

  /**
   * Judges the window: PSI per compared feature against the mix of its hours' training histograms, status per
   * feature, the model stale when one drifts. Logs only when the overall verdict changes.
   */
  evaluate(): DriftReport | undefined {
    const ref = this.ref;
    if (!ref) return undefined;
    const now = this.now();
    const current = Math.floor(now / this.sliceMs);
    const bins = new Float64Array(ref.binsTotal);
    const refs = new Float64Array(KEYS);
    for (const s of this.slices as Array<Slice | undefined>) {
      if (!s || s.id <= current - SLICES || s.id > current) continue;
      for (let i = 0; i < bins.length; i++) bins[i]! += s.bins[i]!;
      for (let k = 0; k < KEYS; k++) refs[k]! += s.refs[k]!;
    }
    let compared = 0;
    for (let k = 0; k < UNCOVERED_KEY; k++) compared += refs[k]!;
    const rows = compared + refs[UNCOVERED_KEY]!;

    const features: Record<string, FeatureDrift> = {};
    let judged = 0;
    let drifting = 0;
    ref.compared.forEach((f, c) => {
      const h = ref.profile.features[f]!;
      const width = h.edges.length + 2;
      const counts = bins.subarray(ref.offsets[c]!, ref.offsets[c]! + width);
      const entry: FeatureDrift = {
        psi: null,
        status: 'insufficient',
        samples: compared,
        min_samples: this.options.minRows,
        threshold: ref.thresholds[c]!,
      };
      if (compared >= this.options.minRows) {
        const expected = new Array<number>(width).fill(0);
        for (let k = 0; k < UNCOVERED_KEY; k++) {
          const w = refs[k]! / compared;
          // A pooled feature's rows are matched on their hour of day only (keys 0..167 are hours of week).
          const key = ref.pooled[c] && k < ALL_KEY ? HOD_KEY + (k < HOD_KEY ? k % 24 : k - HOD_KEY) : k;
          const shares = w > 0 ? ref.shares[key]?.[c] : undefined;
          if (shares) for (let b = 0; b < width; b++) expected[b]! += w * shares[b]!;
        }
        const psi = populationStability({ name: h.name, edges: h.edges, shares: expected }, counts);
        // Hysteresis: a drifting feature stays so until clearly back, so the verdict does not flap at the line.
        const was = this.lastFeatureStatus.get(h.name) === 'drift';
        const limit = was ? entry.threshold * this.clearRatio : entry.threshold;
        entry.psi = Math.round(psi * 10_000) / 10_000;
        entry.status = psi > limit ? 'drift' : 'ok';
        judged++;
        if (entry.status === 'drift') drifting++;
      }
      features[h.name] = entry;
    });
    const state: DriftStatus = drifting > 0 ? 'drift' : judged > 0 ? 'ok' : 'insufficient';
    const report: DriftReport = {
      at_ms: now,
      window_ms: this.options.windowMs,
      threshold: this.options.threshold,
      calibrated: ref.calibrated,
      basis: ref.timed ? 'hour_of_week' : 'all_hours',
      state,
      stale: state === 'drift',
      rows,
      reference: {
        hour_of_week: sumKeys(refs, 0, HOD_KEY),
        hour_of_day: sumKeys(refs, HOD_KEY, ALL_KEY),
        all_hours: refs[ALL_KEY]!,
        uncovered: refs[UNCOVERED_KEY]!,
      },
      features,
      not_compared: ref.timed
        ? ref.profile.features.map((h) => h.name).filter((n) => TIME_FEATURES.includes(n))
        : [],
    };
    this.publish(report);
    this.transition(report);
    this.last = report;
    return report;
  }

  private publish(report: DriftReport): void {
    for (const [name, f] of Object.entries(report.features)) {
      if (f.psi === null) this.psi.remove({ feature: name });
      else this.psi.set({ feature: name }, f.psi);
      this.samples.set({ feature: name }, f.samples);
      this.thresholdGauge.set({ feature: name }, f.threshold);
      for (const s of ['ok', 'drift', 'insufficient'] as const)
        this.status.set({ feature: name, status: s }, f.status === s ? 1 : 0);
      this.lastFeatureStatus.set(name, f.status);
    }
    this.stale.set(report.stale ? 1 : 0);
  }

  /** One log line per change of verdict, not one per interval. */
  private transition(report: DriftReport): void {
    const before = this.state;
    this.state = report.state;
    if (before === report.state) return;
    if (report.state === 'drift') {
      const drifted = Object.fromEntries(
        Object.entries(report.features)
          .filter(([, f]) => f.status === 'drift')
          .map(([name, f]) => [name, { psi: f.psi, threshold: f.threshold }]),
      );
      this.logger.warn(
        {
          psi: drifted,
          calibrated: report.calibrated,
          rows: report.rows,
          window_ms: report.window_ms,
          basis: report.basis,
        },
        'feature drift: live traffic differs from the champion’s training data at the same hours',
      );
    } else if (before === 'drift')
      this.logger.info({ rows: report.rows, state: report.state }, 'feature drift cleared');
  }

  private sliceAt(now: number): Slice {
    const id = Math.floor(now / this.sliceMs);
    const ref = this.ref!;
    const at = ((id % SLICES) + SLICES) % SLICES;
    let slice = this.slices[at];
    if (!slice) {
      slice = { id, bins: new Float64Array(ref.binsTotal), refs: new Float64Array(KEYS) };
      this.slices[at] = slice;
    } else if (slice.id !== id) {
      slice.id = id;
      slice.bins.fill(0);
      slice.refs.fill(0);
    }
    return slice;
  }

  private prepare(profile: FeatureProfile): Reference {
    const features = profile.features;
    const hourCol = features.findIndex((h) => h.name === 'hour_local');
    const weekdayCol = features.findIndex((h) => h.name === 'weekday_local');
    const byHour = profile.byHourOfWeek;
    const timed =
      byHour !== undefined &&
      hourCol >= 0 &&
      weekdayCol >= 0 &&
      byHour.rows.length === HOURS_OF_WEEK &&
      byHour.counts.length === features.length;
    const compared = features
      .map((h, f) => (timed && TIME_FEATURES.includes(h.name) ? -1 : f))
      .filter((f) => f >= 0);
    const offsets: number[] = [];
    let binsTotal = 0;
    for (const f of compared) {
      offsets.push(binsTotal);
      binsTotal += features[f]!.edges.length + 2;
    }
    const calibration = (profile as CalibratedProfile).driftCalibration?.thresholds;
    const thresholds = compared.map((f) =>
      Math.max(this.options.threshold, calibration?.[features[f]!.name] ?? this.options.threshold),
    );
    const calibrated = calibration !== undefined;
    const poolNames = (profile as CalibratedProfile).driftCalibration?.pooled_by_hour_of_day ?? [];
    const pooled = compared.map((f) => timed && poolNames.includes(features[f]!.name));
    const shares: Array<Float64Array[] | undefined> = new Array(KEYS).fill(undefined);
    const keyOfHour = new Int16Array(HOURS_OF_WEEK).fill(UNCOVERED_KEY);
    // `shares` and `keyOfHour` are filled in place below.
    const reference = {
      profile,
      compared,
      offsets,
      binsTotal,
      timed,
      hourCol,
      weekdayCol,
      keyOfHour,
      shares,
      thresholds,
      calibrated,
      pooled,
    };
    if (!timed) {
      shares[ALL_KEY] = compared.map((f) => Float64Array.from(features[f]!.shares));
      keyOfHour.fill(ALL_KEY);
      return reference;
    }
    const normalize = (counts: Float64Array): Float64Array => {
      let total = 0;
      for (const c of counts) total += c;
      return counts.map((c) => (total > 0 ? c / total : 0));
    };
    for (let hod = 0; hod < 24; hod++) {
      let dayRows = 0;
      for (let d = 0; d < 7; d++) dayRows += byHour.rows[d * 24 + hod] ?? 0;
      if (dayRows >= this.minReferenceRows)
        shares[HOD_KEY + hod] = compared.map((f) => {
          const sum = new Float64Array(features[f]!.edges.length + 2);
          for (let d = 0; d < 7; d++) {
            const c = byHour.counts[f]![d * 24 + hod] ?? [];
            for (let b = 0; b < c.length && b < sum.length; b++) sum[b]! += c[b]!;
          }
          return normalize(sum);
        });
      for (let d = 0; d < 7; d++) {
        const h = d * 24 + hod;
        if ((byHour.rows[h] ?? 0) >= this.minReferenceRows) {
          shares[h] = compared.map((f) => {
            const c = byHour.counts[f]![h] ?? [];
            const sum = new Float64Array(features[f]!.edges.length + 2);
            for (let b = 0; b < c.length && b < sum.length; b++) sum[b] = c[b]!;
            return normalize(sum);
          });
          keyOfHour[h] = h;
        } else if (shares[HOD_KEY + hod]) keyOfHour[h] = HOD_KEY + hod;
      }
    }
    return reference;
  }
}

function sumKeys(refs: Float64Array, from: number, to: number): number {
  let s = 0;
  for (let k = from; k < to; k++) s += refs[k]!;
  return s;
}
