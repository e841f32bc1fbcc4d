import { gridDisk, latLngToCell } from 'h3-js';

const MAX_ENTRIES = 50_000;

/**
 * H3 lookups for fixed places (stores ask about the same few thousand locations all day): latLngToCell and
 * gridDisk cost microseconds each and dominate a 100-store batch, so they are memoised per location.
 */
export class CellCache {
  private readonly cells = new Map<string, string>();
  private readonly disks = new Map<string, string[]>();

  constructor(readonly resolution: number) {}

  cellOf(lat: number, lng: number): string {
    const key = `${lat},${lng}`;
    let cell = this.cells.get(key);
    if (cell === undefined) {
      if (this.cells.size >= MAX_ENTRIES) this.cells.clear();
      cell = latLngToCell(lat, lng, this.resolution);
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** The cell and its ring-1 neighbours. */
  diskOf(cell: string): string[] {
    let disk = this.disks.get(cell);
    if (disk === undefined) {
      if (this.disks.size >= MAX_ENTRIES) this.disks.clear();
      disk = gridDisk(cell, 1);
      this.disks.set(cell, disk);
    }
    return disk;
  }
}
