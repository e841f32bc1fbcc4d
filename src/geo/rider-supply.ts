import { latLngToCell } from 'h3-js';
import type { LatLng } from '../features/index.js';
import { CellCache } from './cells.js';

interface RiderState {
  cell: string;
  atMs: number;
  available: boolean;
}

/**
 * What rider supply knows of the riders near one place at one moment: enough to count them at any order time
 * (`ridersAt`), on either side of the wire, as geo itself counts them.
 */
export interface RidersNear {
  /** Last ping times of the free riders in the place's zone and its neighbours, oldest first. */
  pingsMs: number[];
  /** The latest ping of any rider anywhere; null before the first. */
  lastPingMs: number | null;
  /** How long a ping counts. */
  ttlMs: number;
}

/** Free riders near the place at `atMs`: pinged within the TTL before it; null when no rider at all has. */
export function ridersAt(riders: RidersNear, atMs: number): number | null {
  if (riders.lastPingMs === null || atMs - riders.lastPingMs > riders.ttlMs) return null;
  const since = atMs - riders.ttlMs;
  let count = 0;
  for (const p of riders.pingsMs) if (p > since && p <= atMs) count++;
  return count;
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
    return ridersAt(this.near(location), atMs);
  }

  /** The riders near `location` as they stand now, for any order time (`ridersAt`). */
  near(location: LatLng): RidersNear {
    const pingsMs: number[] = [];
    for (const cell of this.places.diskOf(this.places.cellOf(location.lat, location.lng))) {
      const members = this.byCell.get(cell);
      if (!members) continue;
      for (const id of members) {
        const r = this.riders.get(id)!;
        if (r.available) pingsMs.push(r.atMs);
      }
    }
    return {
      pingsMs: pingsMs.sort((a, b) => a - b),
      lastPingMs: this.lastPingMs === Number.NEGATIVE_INFINITY ? null : this.lastPingMs,
      ttlMs: this.options.ttlMs,
    };
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
