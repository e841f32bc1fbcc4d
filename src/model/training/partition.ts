/**
 * Rows of every node as a contiguous range of one index array. Splitting a node is a stable
 * partition of its range, so rows stay in ascending order and histogram scans stay cache-friendly.
 */
export class Partition {
  readonly rows: Uint32Array;
  private readonly tmp: Uint32Array;

  constructor(rows: Uint32Array) {
    this.rows = rows;
    this.tmp = new Uint32Array(rows.length);
  }

  /** Moves the rows of [begin, end) that go left to the front; returns the first right position. */
  /** `column` holds one feature's bin of every row, so the scan reads it in row order. */
  split(begin: number, end: number, column: Uint8Array, leftOfBin: Uint8Array): number {
    const rows = this.rows;
    const tmp = this.tmp;
    let l = begin;
    let r = 0;
    // Branch-free: a split's side is a coin flip to the branch predictor. Writing rows[l] is safe
    // because l never passes i, whose row has been read.
    for (let i = begin; i < end; i++) {
      const row = rows[i]!;
      const left = leftOfBin[column[row]!]!;
      rows[l] = row;
      tmp[r] = row;
      l += left;
      r += 1 - left;
    }
    rows.set(tmp.subarray(0, r), l);
    return l;
  }
}
