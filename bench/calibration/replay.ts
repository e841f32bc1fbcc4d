// The calibration benchmark's core: ranges of a test split under each method, replayed as a live system would
// see them (online states learn only from outcomes delivered before an order is placed), and per-segment figures.
import {
  OnlineSegmentedRanges,
  SegmentedRanges,
  loadModel,
  type ModelArtifact,
  type OnlineSegmentOptions,
  type SegmentKey,
  type SegmentQuote,
  type TrainingData,
} from '../../src/model/index.js';

export const NOMINAL = 0.8;
/** Segments with fewer test outcomes are reported, not judged. */
export const JUDGED_MIN = 200;
/** The judged band: the 95% binomial interval around 0.80 for a segment's outcomes, widened by this. */
export const BAND_SLACK = 0.01;

export const METHODS = ['pooled', 'segment', 'segmentOnline', 'pooledOnline'] as const;
export type Method = (typeof METHODS)[number];
export const METHOD_LABELS: Record<Method, string> = {
  pooled: 'static pooled CQR',
  segment: 'static per-segment',
  segmentOnline: 'per-segment online',
  pooledOnline: 'pooled online (context)',
};

/** Per test row: inside its range (1/0) and the range's width, for one method. */
export interface RowRanges {
  inside: Uint8Array;
  width: Float64Array;
}

export interface ReplayInput {
  /** Calibrated non-crossing artifact with per-segment factors. */
  artifact: ModelArtifact;
  test: TrainingData;
  /** The segment of test row i, over the artifact's segment columns ('' unknown). */
  segmentOf: (i: number) => SegmentKey;
  /** When each test order was placed and delivered (any one clock), rows in placement order. */
  placed: Float64Array;
  delivered: Float64Array;
  online?: OnlineSegmentOptions;
  /** Outcomes the online states are told of (default: all); a withheld one is still scored. */
  observed?: (i: number) => boolean;
}

export function rowMajor(d: Pick<TrainingData, 'columns' | 'target'>): Float64Array {
  const nF = d.columns.length;
  const n = d.target.length;
  const out = new Float64Array(n * nF);
  for (let f = 0; f < nF; f++) for (let i = 0; i < n; i++) out[i * nF + f] = d.columns[f]![i]!;
  return out;
}

/**
 * Every method's range for every test row. Online states are replayed causally: before order i is quoted, every
 * order delivered before it was placed is observed, with the quote it was given (a late outcome is judged
 * against its own range).
 */
export function replay(input: ReplayInput): Record<Method, RowRanges> {
  const loaded = loadModel(input.artifact);
  if (!loaded.ok) throw loaded.error;
  const model = loaded.value;
  const ranges = SegmentedRanges.fromArtifact(input.artifact);
  if (!ranges) throw new Error('the artifact has no per-segment calibration');
  const n = input.test.target.length;
  const nOut = model.outputNames.length;
  const pred = new Float64Array(n * nOut);
  model.predictBatch(rowMajor(input.test), n, pred);
  const y = input.test.target;
  const out = Object.fromEntries(
    METHODS.map((m) => [m, { inside: new Uint8Array(n), width: new Float64Array(n) }]),
  ) as Record<Method, RowRanges>;
  const record = (m: Method, i: number, lower: number, upper: number): void => {
    out[m].inside[i] = y[i]! >= lower && y[i]! <= upper ? 1 : 0;
    out[m].width[i] = upper - lower;
  };
  const segmentOnline = new OnlineSegmentedRanges(ranges, input.online);
  const pooledOnline = new OnlineSegmentedRanges(ranges, input.online);
  const quotes: Array<{ segment: SegmentQuote; pooled: SegmentQuote } | undefined> = new Array(n);
  const byDelivery = [...Array(n).keys()].sort((a, b) => input.delivered[a]! - input.delivered[b]!);
  let d = 0;
  for (let i = 0; i < n; i++) {
    for (; d < n && input.delivered[byDelivery[d]!]! < input.placed[i]!; d++) {
      const j = byDelivery[d]!;
      const q = quotes[j];
      if (!q) throw new Error(`order ${j} delivered before order ${i} was placed, yet placed after it`);
      if (input.observed && !input.observed(j)) continue;
      segmentOnline.observe(q.segment, y[j]!);
      pooledOnline.observe(q.pooled, y[j]!);
    }
    const p = pred.subarray(i * nOut, (i + 1) * nOut);
    const segment = input.segmentOf(i);
    record('pooled', i, p[ranges.lowerIndex]!, p[ranges.upperIndex]!);
    const s = ranges.intervalFor(p, segment);
    record('segment', i, s.lower, s.upper);
    const q = { segment: segmentOnline.quote(p, segment), pooled: pooledOnline.quote(p, {}) };
    quotes[i] = q;
    record('segmentOnline', i, q.segment.lower, q.segment.upper);
    record('pooledOnline', i, q.pooled.lower, q.pooled.upper);
  }
  return out;
}

/** Coverage of a Binomial(n, p) share: the 2.5% and 97.5% quantiles of successes, divided by n. */
export function binomialBand(n: number, p = NOMINAL): [number, number] {
  // Log-space pmf from the mode outwards would be exact too; a running sum in logs is enough for n ≤ 1e5.
  const logC = (k: number): number => lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
  let cdf = 0;
  let lo = -1;
  let hi = n;
  for (let k = 0; k <= n; k++) {
    cdf += Math.exp(logC(k) + k * Math.log(p) + (n - k) * Math.log(1 - p));
    if (lo < 0 && cdf >= 0.025) lo = k;
    if (cdf >= 0.975) {
      hi = k;
      break;
    }
  }
  return [lo / n, hi / n];
}

/** log Γ(x) (Lanczos, g = 7): enough digits for binomial coefficients. */
function lgamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

export interface SegmentFigures {
  segment: string;
  n: number;
  judged: boolean;
  band: [number, number];
  coverage: Record<Method, number>;
  width: Record<Method, number>;
  inBand: Record<Method, boolean | null>;
}

export interface MethodTotals {
  coverage: number;
  width: number;
  /** Judged segments inside their band, of all judged segments. */
  segmentsInBand: number;
  segmentsJudged: number;
  /** Mean width over pooled CQR's, minus 1. */
  widthOverPooled: number;
}

export function figures(
  labels: readonly string[],
  rows: Record<Method, RowRanges>,
): { segments: SegmentFigures[]; totals: Record<Method, MethodTotals> } {
  const groups = new Map<string, number[]>();
  labels.forEach((l, i) => {
    const key = l === '' ? '(missing)' : l;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(i);
  });
  const mean = (a: ArrayLike<number>, idx: number[]): number =>
    idx.reduce((s, i) => s + a[i]!, 0) / idx.length;
  const segments = [...groups]
    .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
    .map(([segment, idx]): SegmentFigures => {
      const n = idx.length;
      const judged = n >= JUDGED_MIN;
      const [lo, hi] = binomialBand(n);
      const band: [number, number] = [lo - BAND_SLACK, hi + BAND_SLACK];
      const coverage = {} as Record<Method, number>;
      const width = {} as Record<Method, number>;
      const inBand = {} as Record<Method, boolean | null>;
      for (const m of METHODS) {
        coverage[m] = mean(rows[m].inside, idx);
        width[m] = mean(rows[m].width, idx);
        inBand[m] = judged ? coverage[m] >= band[0] && coverage[m] <= band[1] : null;
      }
      return { segment, n, judged, band, coverage, width, inBand };
    });
  const all = [...labels.keys()];
  const pooledWidth = mean(rows.pooled.width, all);
  const totals = Object.fromEntries(
    METHODS.map((m) => {
      const judged = segments.filter((s) => s.judged);
      const width = mean(rows[m].width, all);
      return [
        m,
        {
          coverage: mean(rows[m].inside, all),
          width,
          segmentsInBand: judged.filter((s) => s.inBand[m]).length,
          segmentsJudged: judged.length,
          widthOverPooled: width / pooledWidth - 1,
        },
      ];
    }),
  ) as Record<Method, MethodTotals>;
  return { segments, totals };
}
