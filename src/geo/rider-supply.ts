import { latLngToCell } from 'h3-js';
import type { LatLng } from '../features/index.js';
import { CellCache } from './cells.js';

interface RiderState {
  cell: string;
  atMs: number;
  available: boolean;
}

export interface RiderSupplyOptions {
  resolution: number;
  ttlMs: number;
}

/**
 * Free riders per zone from their last known position. A rider who stops reporting drops out after the TTL, so a
 * lost phone does not count as supply forever. Out-of-order pings (older than what is known) are ignored.
 */
export class RiderSupply {
  private readonly riders = new Map<string, RiderState>();
  private readonly byCell = new Map<string, Set<string>>();
  private lastPingMs = Number.NEGATIVE_INFINITY;
  private lastPruneMs = Number.NEGATIVE_INFINITY;
  private readonly places: CellCache;

  constructor(private readonly options: RiderSupplyOptions) {
    this.places = new CellCache(options.resolution);
  }

  recordRiderLocation(riderId: string, lat: number, lng: number, atMs: number, available: boolean): void {
    const known = this.riders.get(riderId);
    if (known && known.atMs > atMs) return;
    const cell = latLngToCell(lat, lng, this.options.resolution);
    if (known && known.cell !== cell) this.leave(riderId, known.cell);
    if (!known || known.cell !== cell) {
      let members = this.byCell.get(cell);
      if (!members) this.byCell.set(cell, (members = new Set()));
      members.add(riderId);
    }
    this.riders.set(riderId, { cell, atMs, available });
    if (atMs > this.lastPingMs) this.lastPingMs = atMs;
    if (atMs - this.lastPruneMs > this.options.ttlMs) this.prune(atMs);
  }

  /** Free riders in the location's zone and its neighbours; null when no rider has reported within the TTL. */
  ridersNear(location: LatLng, atMs: number): number | null {
    if (atMs - this.lastPingMs > this.options.ttlMs) return null;
    const since = atMs - this.options.ttlMs;
    let count = 0;
    for (const cell of this.places.diskOf(this.places.cellOf(location.lat, location.lng))) {
      const members = this.byCell.get(cell);
      if (!members) continue;
      for (const id of members) {
        const r = this.riders.get(id)!;
        if (r.available && r.atMs > since && r.atMs <= atMs) count++;
      }
    }
    return count;
  }

  get size(): number {
    return this.riders.size;
  }

  /** Forgotten riders (the event log's forget journal): their last position and id go at once. */
  forgetRiders(riderIds: Iterable<string>): number {
    let dropped = 0;
    for (const id of riderIds) {
      const r = this.riders.get(id);
      if (!r) continue;
      this.riders.delete(id);
      this.leave(id, r.cell);
      dropped++;
    }
    return dropped;
  }

  /** Forget riders silent for longer than the TTL, so memory follows the active fleet. */
  prune(nowMs: number): void {
    this.lastPruneMs = nowMs;
    const before = nowMs - this.options.ttlMs;
    for (const [id, r] of this.riders) {
      if (r.atMs < before) {
        this.riders.delete(id);
        this.leave(id, r.cell);
      }
    }
  }

  private leave(riderId: string, cell: string): void {
    const members = this.byCell.get(cell);
    members?.delete(riderId);
    if (members?.size === 0) this.byCell.delete(cell);
  }
}
