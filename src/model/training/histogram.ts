/**
 * Per-node histograms: for every active feature and bin, the sums of gradient and hessian, stored as
 * [g, h] pairs at (histOffsets[f] + bin) * HIST_STRIDE. No row counts: as in XGBoost, a bin or child is
 * empty when its hessian sum is, which saves a third of the writes of the hottest loop in training.
 */
export const HIST_STRIDE = 2;

export interface HistInput {
  bins: Uint8Array;
  nFeatures: number;
  rows: Uint32Array;
  grad: Float32Array;
  hess: Float32Array;
  /** Active feature indices (ascending) and their histogram offsets (already multiplied by HIST_STRIDE). */
  feats: Int32Array;
  foff: Int32Array;
  /** Bins per active feature. */
  fbins: Int32Array;
  /** Every hessian is 1 (squared and quantile losses): the hessian array is not read. */
  unitHessian: boolean;
}

/** One node's histogram to build: rows[begin, end) summed into `hist`. */
export interface HistTask {
  begin: number;
  end: number;
  hist: Float64Array;
}

/** Zeroes then fills active features [j0, j1) of one task's histogram. */
export function buildFeatures(
  inp: HistInput,
  task: HistTask,
  j0: number,
  j1: number,
  accumulators: Accumulators,
): void {
  const { foff, fbins } = inp;
  const hist = task.hist;
  hist.fill(0, foff[j0]!, j1 > j0 ? foff[j1 - 1]! + fbins[j1 - 1]! * HIST_STRIDE : foff[j0]!);
  accumulators.for(inp, j0, j1)(inp.rows, inp.bins, inp.grad, inp.hess, task.begin, task.end, hist);
}

/** `accumulate` specialised to one feature set: see `Accumulators`. */
export type Accumulator = (
  rows: Uint32Array,
  bins: Uint8Array,
  grad: Float32Array,
  hess: Float32Array,
  begin: number,
  end: number,
  hist: Float64Array,
) => void;

/** Above this many features a generated loop body would be too long to pay. */
const MAX_UNROLLED = 256;
/** Sampled feature sets differ per tree: the generated code kept is bounded. */
const MAX_GENERATED = 512;

/**
 * The histogram loop, generated once per feature set with the features' row positions and histogram
 * offsets as constants and the feature loop unrolled: it runs over twice as fast as `accumulate`,
 * whose inner loop reloads offsets and checks bounds for every feature of every row. Falls back to
 * `accumulate` where code generation is disallowed.
 *
 * The generated code is cached here, in an object its owner (a training run's builder, or the histogram
 * worker) creates once, rather than in the module: two trainings in one process keep separate caches.
 */
export class Accumulators {
  private readonly generated = new Map<string, Accumulator>();
  private readonly perInput = new WeakMap<HistInput, Map<number, Accumulator>>();

  for(inp: HistInput, j0: number, j1: number): Accumulator {
    let mine = this.perInput.get(inp);
    if (!mine) this.perInput.set(inp, (mine = new Map()));
    const slot = j0 * 65_536 + j1;
    let acc = mine.get(slot);
    if (acc) return acc;
    const { nFeatures: nF, feats, foff, unitHessian } = inp;
    const lines: string[] = [];
    for (let j = j0; j < j1; j++) {
      lines.push(`o = ${foff[j]} + (bins[base + ${feats[j]}] << 1); hist[o] += g; hist[o + 1] += h;`);
    }
    const body = [
      'for (let i = begin; i < end; i++) {',
      `const row = rows[i]; const base = row * ${nF}; const g = grad[row];`,
      `const h = ${unitHessian ? '1' : 'hess[row]'}; let o;`,
      ...lines,
      '}',
    ].join('\n');
    acc = this.generated.get(body) ?? (j1 - j0 <= MAX_UNROLLED ? generate(body) : undefined);
    if (acc) {
      if (this.generated.size >= MAX_GENERATED) this.generated.clear();
      this.generated.set(body, acc);
    } else {
      acc = (_rows, _bins, _grad, _hess, begin, end, hist) => accumulate(inp, begin, end, j0, j1, hist);
    }
    mine.set(slot, acc);
    return acc;
  }
}

function generate(body: string): Accumulator | undefined {
  try {
    return new Function(
      'rows',
      'bins',
      'grad',
      'hess',
      'begin',
      'end',
      'hist',
      `'use strict';\n${body}`,
    ) as Accumulator;
  } catch {
    return undefined;
  }
}

/**
 * Adds rows[begin, end) into active features [j0, j1) of hist. Each bin sums its rows in row order
 * whichever features a thread takes, so one or two threads give identical histograms.
 */
export function accumulate(
  inp: HistInput,
  begin: number,
  end: number,
  j0: number,
  j1: number,
  hist: Float64Array,
): void {
  const { bins, nFeatures: nF, rows, grad, hess, feats, foff, unitHessian } = inp;
  // `<< 1` is `* HIST_STRIDE`, spelled as a shift because this is the hottest loop of training.
  if (feats.length === nF) {
    // Every feature is active, so active index j is feature j.
    for (let i = begin; i < end; i++) {
      const row = rows[i]!;
      const base = row * nF;
      const g = grad[row]!;
      const h = unitHessian ? 1 : hess[row]!;
      for (let f = j0; f < j1; f++) {
        const o = foff[f]! + (bins[base + f]! << 1);
        hist[o] += g;
        hist[o + 1] += h;
      }
    }
    return;
  }
  for (let i = begin; i < end; i++) {
    const row = rows[i]!;
    const base = row * nF;
    const g = grad[row]!;
    const h = unitHessian ? 1 : hess[row]!;
    for (let j = j0; j < j1; j++) {
      const o = foff[j]! + (bins[base + feats[j]!]! << 1);
      hist[o] += g;
      hist[o + 1] += h;
    }
  }
}

/** Histogram subtraction: the larger child is its parent minus the smaller child, computed in place. */
export function subtractInto(inp: HistInput, parent: Float64Array, child: Float64Array): void {
  const { feats, foff, fbins } = inp;
  for (let j = 0; j < feats.length; j++) {
    const end = foff[j]! + fbins[j]! * HIST_STRIDE;
    for (let o = foff[j]!; o < end; o++) parent[o] -= child[o]!;
  }
}

/** Builds the histograms of a batch of nodes: one tree level (depth-wise) or one split (leaf-wise). */
export interface HistBuilder {
  build(inp: HistInput, tasks: HistTask[]): void;
}

/** Builds every histogram on this thread, with the given (by default its own) generated loops. */
export function serialBuilder(accumulators = new Accumulators()): HistBuilder {
  return {
    build(inp, tasks) {
      for (const t of tasks) buildFeatures(inp, t, 0, inp.feats.length, accumulators);
    },
  };
}
