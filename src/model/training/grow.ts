import type { BinnedData } from './dataset.js';
import {
  HIST_STRIDE,
  serialBuilder,
  subtractInto,
  type HistBuilder,
  type HistInput,
  type HistTask,
} from './histogram.js';
import { Partition } from './partition.js';
import { findBestSplit, SplitScratch, type SplitInfo, type SplitParams } from './split.js';

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

export class TreeGrower {
  readonly partition: Partition;
  private readonly pool: Float64Array[] = [];
  private readonly histSize: number;
  /** This grower's own split-search buffers: a training run owns one grower. */
  private readonly scratch = new SplitScratch();

  constructor(
    private readonly data: BinnedData,
    private readonly params: GrowParams,
    rows: Uint32Array,
    private readonly builder: HistBuilder = serialBuilder(),
  ) {
    this.partition = new Partition(rows);
    this.histSize = data.histOffsets[data.nFeatures]! * HIST_STRIDE;
  }

  /** Feature-major copies of the training bins, made on a feature's first split. */
  private readonly columns: Uint8Array[] = [];

  private column(f: number): Uint8Array {
    let c = this.columns[f];
    if (!c) {
      const { bins, nFeatures: nF, nRows } = this.data;
      c = this.columns[f] = new Uint8Array(nRows);
      for (let i = 0; i < nRows; i++) c[i] = bins[i * nF + f]!;
    }
    return c;
  }

  private take(): Float64Array {
    return this.pool.pop() ?? new Float64Array(this.histSize);
  }

  private release(node: GrowNode): void {
    if (node.hist) this.pool.push(node.hist);
    node.hist = null;
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
      this.params,
      this.scratch,
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
    root.hist = this.take();
    this.builder.build(inp, [{ begin: 0, end: nRows, hist: root.hist }]);
    this.evaluate(inp, root);
    let open: GrowNode[] = root.split ? [root] : [];
    let leaves = 1;
    // Depth-wise splits a whole level at once and leaf-wise the best node, so one batch of histograms
    // is built per level or per split.
    while (open.length > 0 && leaves < maxLeaves) {
      let group = open;
      open = [];
      if (p.growth === 'leafwise') {
        let pick = 0;
        for (let i = 1; i < group.length; i++) if (group[i]!.split!.gain > group[pick]!.split!.gain) pick = i;
        open = group;
        group = open.splice(pick, 1);
      }
      const tasks: HistTask[] = [];
      const built: GrowNode[] = [];
      for (const node of group) {
        if (leaves >= maxLeaves) {
          this.release(node);
          continue;
        }
        const [L, R] = this.splitNode(node, nodes);
        leaves++;
        if (!(leaves < maxLeaves && (this.canSplit(L) || this.canSplit(R)))) {
          this.release(node);
          continue;
        }
        const small = L.C <= R.C ? L : R;
        small.hist = this.take();
        tasks.push({ begin: small.begin, end: small.end, hist: small.hist });
        built.push(node);
      }
      this.builder.build(inp, tasks);
      for (const node of built) {
        const L = nodes[node.left]!;
        const R = nodes[node.right]!;
        const small = L.C <= R.C ? L : R;
        const large = small === L ? R : L;
        subtractInto(inp, node.hist!, small.hist!);
        large.hist = node.hist;
        node.hist = null;
        for (const child of [L, R]) {
          if (this.canSplit(child)) this.evaluate(inp, child);
          else this.release(child);
          if (child.split) open.push(child);
        }
      }
    }
    for (const n of open) this.release(n);
    return nodes;
  }

  /** Partitions a node's rows by its split and appends its two children. */
  private splitNode(node: GrowNode, nodes: GrowNode[]): [GrowNode, GrowNode] {
    const s = node.split!;
    const mid = this.partition.split(node.begin, node.end, this.column(s.feature), s.leftOfBin);
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
    return [L, R];
  }
}
