import type { Calibration, ModelArtifact, SegmentCalibration, SegmentCell } from '../formats/artifact.js';
import { conformalQuantile, scaledScores, shareAtMost } from './calibrate.js';
import { modelFromArtifact } from '../inference/model.js';
import { Rng } from '../rng.js';
import type { TrainingData } from '../types.js';

/**
 * Per-segment (Mondrian) conformal calibration. One pooled correction is right on average and wrong where the
 * model is: a volatile city, a rainy evening. Splitting the validation rows by segment and taking each cell's own
 * conformal factor gives each segment the nominal coverage on its own exchangeable rows (Vovk's Mondrian
 * conformal prediction), wherever it has enough rows to estimate one.
 *
 * Segments nest by column order: with columns [zone, daypart] the cells are [] (pooled), [zone] and
 * [zone, daypart]. A cell with fewer than `minRows` rows takes its parent's factor; a label the validation set
 * never had, or a missing one, stops the walk at the parent. Factors scale the served range around the median
 * (calibrate.ts `scaledScore`), so every correction keeps lower ≤ median ≤ upper.
 */

/** Segment cells need this many validation rows for a factor of their own (see docs/model.md). */
export const DEFAULT_SEGMENT_MIN_ROWS = 200;
/** Scores a cell keeps for online adaptation: the 0.8 quantile of 100 even ranks is within a rank of its own. */
export const SKETCH_SIZE = 100;

/** A segment: label per column name ('' or absent: unknown). Extra keys are ignored. */
export type SegmentKey = Readonly<Record<string, string | null | undefined>>;

/** The served range of each row: lower and upper outer quantiles and the median. */
export interface RangeRows {
  lo: ArrayLike<number>;
  median: ArrayLike<number>;
  hi: ArrayLike<number>;
}

export interface SegmentOptions {
  columns: readonly string[];
  nominal: number;
  minRows?: number;
  shrinkRows?: number;
}

/**
 * Labels of one segment column for each row: `data.segments[column]` when given, else the feature of that
 * name (a categorical value as its category, a number as written); '' where missing.
 */
export function segmentLabels(
  data: Pick<TrainingData, 'spec' | 'columns' | 'segments'>,
  column: string,
): string[] {
  const given = data.segments?.[column];
  if (given) return Array.from(given, (l) => l ?? '');
  const f = data.spec.findIndex((s) => s.name === column);
  if (f < 0) throw new RangeError(`segment column ${column}: neither a feature nor in the data's segments`);
  const spec = data.spec[f]!;
  return Array.from(data.columns[f]!, (v) =>
    Number.isNaN(v) ? '' : spec.type === 'categorical' ? (spec.categories?.[v] ?? String(v)) : String(v),
  );
}

export function segmentLabelColumns(
  data: Pick<TrainingData, 'spec' | 'columns' | 'segments'>,
  columns: readonly string[],
): string[][] {
  return columns.map((c) => segmentLabels(data, c));
}

/** Up to SKETCH_SIZE scores at evenly spaced ranks, shuffled (seeded) so that any part of them is a fair sample. */
function sketch(sorted: Float64Array): number[] {
  const n = sorted.length;
  const k = Math.min(n, SKETCH_SIZE);
  const picked = Array.from({ length: k }, (_, j) =>
    Number(sorted[Math.floor(((j + 0.5) * n) / k)]!.toPrecision(6)),
  );
  const rng = new Rng(k);
  for (let i = k - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [picked[i], picked[j]] = [picked[j]!, picked[i]!];
  }
  return picked;
}

/**
 * The segment factors of validation rows: `ranges` as the model serves them (pooled calibration included),
 * `labels[c][i]` the label of row i in column c.
 */
export function calibrateSegments(
  ranges: RangeRows,
  target: ArrayLike<number>,
  labels: ReadonlyArray<ArrayLike<string>>,
  options: SegmentOptions,
): SegmentCalibration {
  const { columns, nominal } = options;
  const minRows = options.minRows ?? DEFAULT_SEGMENT_MIN_ROWS;
  const shrinkRows = options.shrinkRows ?? 0;
  if (columns.length === 0) throw new RangeError('segment calibration: no columns');
  if (labels.length !== columns.length)
    throw new RangeError(`segment calibration: ${labels.length} label columns for ${columns.length} columns`);
  for (const [c, l] of labels.entries())
    if (l.length !== target.length)
      throw new RangeError(
        `segment calibration: column ${columns[c]} has ${l.length} labels for ${target.length} rows`,
      );
  const scores = scaledScores(target, ranges.lo, ranges.median, ranges.hi);
  const cellOf = (rows: number[], labelsOfCell: string[], parent: SegmentCell | undefined): SegmentCell => {
    const own = Float64Array.from(rows, (i) => scores[i]!);
    const base = { labels: labelsOfCell, rows: rows.length, coverageBefore: shareAtMost(own, 1) };
    if (parent && rows.length < minRows)
      return {
        ...base,
        factor: parent.factor,
        source: 'parent',
        coverageAfter: shareAtMost(own, parent.factor),
        scores: [],
      };
    const mine = conformalQuantile(own, nominal, 1);
    const factor = parent
      ? (rows.length * mine + shrinkRows * parent.factor) / (rows.length + shrinkRows)
      : mine;
    return { ...base, factor, source: 'own', coverageAfter: shareAtMost(own, factor), scores: sketch(own) };
  };
  const pooled = cellOf([...Array(target.length).keys()], [], undefined);
  const cells: SegmentCell[] = [pooled];
  // Level by level: group the rows of each parent cell by the next column's label.
  let level: Array<{ cell: SegmentCell; rows: number[] }> = [
    { cell: pooled, rows: [...Array(target.length).keys()] },
  ];
  for (let c = 0; c < columns.length; c++) {
    const next: typeof level = [];
    for (const { cell, rows } of level) {
      const groups = new Map<string, number[]>();
      for (const i of rows) {
        const label = labels[c]![i]!;
        if (label === '') continue;
        let g = groups.get(label);
        if (!g) groups.set(label, (g = []));
        g.push(i);
      }
      for (const label of [...groups.keys()].sort()) {
        const child = cellOf(groups.get(label)!, [...cell.labels, label], cell);
        cells.push(child);
        next.push({ cell: child, rows: groups.get(label)! });
      }
    }
    level = next;
  }
  return { columns: [...columns], minRows, shrinkRows, cells };
}

/** The outer range and the median of each row of `data`, as the artifact serves them (pooled calibration included). */
export function servedRanges(
  artifact: ModelArtifact,
  data: Pick<TrainingData, 'columns' | 'target'>,
): RangeRows {
  const outs = artifact.outputs;
  const model = modelFromArtifact(artifact);
  const n = data.target.length;
  // Without a 0.5 output (an independent pair) the median is unused by additive CQR: any index will do.
  const center = Math.max(
    0,
    outs.findIndex((o) => o.quantile === 0.5),
  );
  const row = new Float64Array(artifact.spec.length);
  const pred = new Float64Array(outs.length);
  const rows = { lo: new Float64Array(n), median: new Float64Array(n), hi: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < row.length; f++) row[f] = data.columns[f]![i]!;
    model.predict(row, pred);
    rows.lo[i] = pred[0]!;
    rows.median[i] = pred[center]!;
    rows.hi[i] = pred[outs.length - 1]!;
  }
  return rows;
}

/**
 * A copy of a calibrated non-crossing artifact with per-segment factors from `valid` (normally the rows its
 * pooled calibration came from), replacing any it had. The trees and the pooled calibration are unchanged.
 */
export function withSegmentCalibration(
  artifact: ModelArtifact,
  valid: Pick<TrainingData, 'spec' | 'columns' | 'target' | 'segments'>,
  options: Omit<SegmentOptions, 'nominal'>,
): ModelArtifact {
  const c = artifact.calibration;
  if (c?.score !== 'scaled')
    throw new RangeError('segment calibration needs a calibrated non-crossing model (scaled calibration)');
  const { segments: _old, ...pooled } = c;
  const bare = { ...artifact, calibration: pooled };
  const segments = calibrateSegments(
    servedRanges(bare, valid),
    valid.target,
    segmentLabelColumns(valid, options.columns),
    { ...options, nominal: c.nominal },
  );
  return { ...bare, formatVersion: 2, calibration: { ...pooled, segments } };
}

/** One segment's corrected range, and where its factor came from. */
export interface SegmentInterval {
  lower: number;
  median: number;
  upper: number;
  factor: number;
  /** Labels of the cell whose factor was used ([] pooled). */
  cell: readonly string[];
}

/**
 * [m − f·(m − lo), m + f·(hi − m)]: ordered for any factor and any inputs. A negative or NaN factor counts as 0
 * (the median alone), a side that already crossed the median as closed.
 */
export function scaleRange(lo: number, median: number, hi: number, factor: number): [number, number] {
  // A closed side or a zero factor gives 0 outright: 0 · Infinity would be NaN.
  const open = factor > 0;
  const below = open && median - lo > 0 ? factor * (median - lo) : 0;
  const above = open && hi - median > 0 ? factor * (hi - median) : 0;
  return [median - below, median + above];
}

interface TrieNode {
  cell: SegmentCell;
  children: Map<string, TrieNode>;
}

/**
 * The static per-segment ranges of a model: `intervalFor(prediction, segment)` corrects the range the model
 * served for one row. Lookups walk a trie of labels (one map lookup per column, no allocation).
 */
export class SegmentedRanges {
  readonly columns: readonly string[];
  readonly nominal: number;
  readonly calibration: SegmentCalibration;
  /** Output indexes in a prediction: the outer quantiles and the median. */
  readonly lowerIndex: number;
  readonly medianIndex: number;
  readonly upperIndex: number;
  private readonly root: TrieNode;

  /** From a model's artifact; undefined when it has no per-segment calibration. */
  static fromArtifact(artifact: Pick<ModelArtifact, 'outputs' | 'calibration'>): SegmentedRanges | undefined {
    const c = artifact.calibration;
    return c?.segments
      ? new SegmentedRanges(
          c,
          artifact.outputs.map((o) => o.name),
        )
      : undefined;
  }

  constructor(calibration: Calibration, outputNames: readonly string[]) {
    if (!calibration.segments || calibration.score !== 'scaled' || !calibration.center)
      throw new RangeError('segmented ranges need a scaled calibration with segments');
    const index = (name: string): number => {
      const k = outputNames.indexOf(name);
      if (k < 0) throw new RangeError(`segmented ranges: no output ${name}`);
      return k;
    };
    this.calibration = calibration.segments;
    this.columns = calibration.segments.columns;
    this.nominal = calibration.nominal;
    this.lowerIndex = index(calibration.lower);
    this.medianIndex = index(calibration.center);
    this.upperIndex = index(calibration.upper);
    const byKey = new Map(calibration.segments.cells.map((c) => [JSON.stringify(c.labels), c]));
    const pooled = byKey.get('[]');
    if (!pooled) throw new RangeError('segmented ranges: no pooled cell');
    this.root = { cell: pooled, children: new Map() };
    // Parents before children, so each cell hangs under its parent's node.
    const cells = [...calibration.segments.cells].sort((a, b) => a.labels.length - b.labels.length);
    for (const cell of cells) {
      if (cell.labels.length === 0) continue;
      let node = this.root;
      for (const label of cell.labels.slice(0, -1)) {
        const next = node.children.get(label);
        if (!next)
          throw new RangeError(`segmented ranges: cell ${JSON.stringify(cell.labels)} has no parent`);
        node = next;
      }
      node.children.set(cell.labels.at(-1)!, { cell, children: new Map() });
    }
  }

  /** The most specific calibrated cell of a segment. */
  cellFor(segment: SegmentKey): SegmentCell {
    let node = this.root;
    for (const column of this.columns) {
      const label = segment[column];
      if (label === undefined || label === null || label === '') break;
      const next = node.children.get(label);
      if (!next) break;
      node = next;
    }
    return node.cell;
  }

  /** The calibrated cells from the pooled one down to `cellFor(segment)`. */
  pathOf(segment: SegmentKey): SegmentCell[] {
    const path = [this.root.cell];
    let node = this.root;
    for (const column of this.columns) {
      const label = segment[column];
      if (label === undefined || label === null || label === '') break;
      const next = node.children.get(label);
      if (!next) break;
      node = next;
      path.push(node.cell);
    }
    return path;
  }

  factorFor(segment: SegmentKey): number {
    return this.cellFor(segment).factor;
  }

  /**
   * Every output of one row corrected for its segment, into `out`: each quantile's distance from the median
   * times the factor (a side that crossed the median counts as closed), so the outputs keep their order. The
   * factor used is returned.
   */
  correct(prediction: ArrayLike<number>, segment: SegmentKey, out: Float64Array): number {
    const factor = this.cellFor(segment).factor;
    const median = prediction[this.medianIndex]!;
    for (let k = 0; k < out.length; k++) {
      const p = prediction[k]!;
      out[k] =
        k === this.medianIndex
          ? median
          : p < median
            ? scaleRange(p, median, median, factor)[0]
            : scaleRange(median, median, p, factor)[1];
    }
    return factor;
  }

  /** The corrected outer range of one row; `prediction` holds the model's outputs for it (Model.predict). */
  intervalFor(prediction: ArrayLike<number>, segment: SegmentKey): SegmentInterval {
    const cell = this.cellFor(segment);
    const median = prediction[this.medianIndex]!;
    const [lower, upper] = scaleRange(
      prediction[this.lowerIndex]!,
      median,
      prediction[this.upperIndex]!,
      cell.factor,
    );
    return { lower, median, upper, factor: cell.factor, cell: cell.labels };
  }
}
