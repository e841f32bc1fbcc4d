import type { BinnedData } from './dataset.js';
import { buildHistogram, subtractInto, type HistInput } from './histogram.js';
import { Partition } from './partition.js';
import { findBestSplit, type SplitInfo, type SplitParams } from './split.js';

export interface GrowParams extends SplitParams {
  maxDepth: number;
  maxLeaves: number;
  growth: 'depthwise' | 'leafwise';
}

/** A node of a tree being grown; leaves keep their row range for leaf values and score updates. */
export interface GrowNode {
  depth: number;
  begin: number;
  end: number;
  G: number;
  H: number;
  C: number;
  split: SplitInfo | null;
  left: number;
  right: number;
  hist: Float64Array | null;
}

/** Starts the second half of a histogram elsewhere; the returned function waits for it. */
export type HalfBuilder = (inp: HistInput, begin: number, end: number, out: Float64Array) => () => void;

export class TreeGrower {
  readonly partition: Partition;
  private readonly pool: Float64Array[] = [];
  private readonly histSize: number;

  constructor(
    private readonly data: BinnedData,
    private readonly params: GrowParams,
    rows: Uint32Array,
    private readonly scratch: Float64Array,
    private readonly half?: HalfBuilder,
  ) {
    this.partition = new Partition(rows);
    this.histSize = data.histOffsets[data.nFeatures]! * 3;
  }

  private take(): Float64Array {
    return this.pool.pop() ?? new Float64Array(this.histSize);
  }

  private release(node: GrowNode): void {
    if (node.hist) this.pool.push(node.hist);
    node.hist = null;
  }

  private build(inp: HistInput, node: GrowNode): void {
    const hist = this.take();
    const half = this.half;
    buildHistogram(
      inp,
      node.begin,
      node.end,
      hist,
      this.scratch,
      half && ((b, e, out) => half(inp, b, e, out)),
    );
    node.hist = hist;
  }

  private canSplit(node: GrowNode): boolean {
    return node.depth < this.params.maxDepth && node.C >= 2 && node.H >= 2 * this.params.minChildWeight;
  }

  private evaluate(inp: HistInput, node: GrowNode): void {
    node.split = findBestSplit(
      node.hist!,
      this.data.featureBins,
      inp.feats,
      inp.foff,
      node.G,
      node.H,
      node.C,
      this.params,
    );
    if (!node.split) this.release(node);
  }

  /** Grows one tree over partition.rows[0, nRows) using the active features of `inp`. */
  grow(inp: HistInput, nRows: number): GrowNode[] {
    const p = this.params;
    const maxLeaves = p.maxLeaves > 0 ? p.maxLeaves : 2 ** Math.min(p.maxDepth, 30);
    const root: GrowNode = {
      depth: 0,
      begin: 0,
      end: nRows,
      G: 0,
      H: 0,
      C: nRows,
      split: null,
      left: -1,
      right: -1,
      hist: null,
    };
    const nodes: GrowNode[] = [root];
    const { grad, hess, rows } = inp;
    for (let i = 0; i < nRows; i++) {
      root.G += grad[rows[i]!]!;
      root.H += hess[rows[i]!]!;
    }
    if (!this.canSplit(root) || maxLeaves < 2) return nodes;
    this.build(inp, root);
    this.evaluate(inp, root);
    const open: GrowNode[] = root.split ? [root] : [];
    let leaves = 1;
    while (open.length > 0 && leaves < maxLeaves) {
      let pick = 0;
      if (p.growth === 'leafwise') {
        for (let i = 1; i < open.length; i++) if (open[i]!.split!.gain > open[pick]!.split!.gain) pick = i;
      }
      const node = open.splice(pick, 1)[0]!;
      const s = node.split!;
      const mid = this.partition.split(
        node.begin,
        node.end,
        this.data.bins,
        this.data.nFeatures,
        s.feature,
        s.leftOfBin,
      );
      const mk = (begin: number, end: number, G: number, H: number): GrowNode => ({
        depth: node.depth + 1,
        begin,
        end,
        G,
        H,
        C: end - begin,
        split: null,
        left: -1,
        right: -1,
        hist: null,
      });
      const L = mk(node.begin, mid, s.gl, s.hl);
      const R = mk(mid, node.end, s.gr, s.hr);
      node.left = nodes.length;
      node.right = nodes.length + 1;
      nodes.push(L, R);
      leaves++;
      const more = leaves < maxLeaves && (this.canSplit(L) || this.canSplit(R));
      if (!more) {
        this.release(node);
        continue;
      }
      const small = L.C <= R.C ? L : R;
      const large = small === L ? R : L;
      this.build(inp, small);
      subtractInto(inp, node.hist!, small.hist!);
      large.hist = node.hist;
      node.hist = null;
      for (const child of [L, R]) {
        if (this.canSplit(child)) this.evaluate(inp, child);
        else this.release(child);
        if (child.split) open.push(child);
      }
    }
    for (const n of open) this.release(n);
    return nodes;
  }
}
