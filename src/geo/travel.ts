import { latLngToCell } from 'h3-js';
import { CellCache } from './cells.js';
import { haversineKm, localTime, type LatLng } from '../features/index.js';
import { err, ok, type Result } from '../platform/index.js';
import { ridersAt } from './rider-supply.js';
import type { TravelSnapshot, TravelTerms, TripEstimate, TripOrigin } from './types.js';

/**
 * Hour-of-week bands: a zone sees a few trips per hour of week, too few to learn 168 speeds, but enough for
 * weekday/weekend × six parts of the day, which is where congestion actually differs.
 */
export const BAND_COUNT = 12;
const DAY_PART_OF_HOUR = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5];
/** Untrained speeds: night is free-flowing, lunch and dinner peaks are slow. */
const DEFAULT_DAY_PART_FACTOR = [1.15, 0.95, 0.85, 0.95, 0.85, 1.05];

export function hourBand(weekday: number, hour: number): number {
  return (weekday >= 5 ? 6 : 0) + DAY_PART_OF_HOUR[Math.min(23, Math.max(0, Math.floor(hour)))]!;
}

/** The hour band of `atMs` in a time zone. */
export function bandAt(timezone: string, atMs: number): number {
  const t = localTime(timezone, atMs);
  return hourBand(t.weekday, t.hour);
}

export interface ZoneSpeedTableJson {
  format: 'etaserve.zone-speeds';
  version: 1;
  resolution: number;
  timezone: string;
  /** km/h per band, for zones without their own. */
  global: number[];
  /** km/h per band; null where the zone has no trips in that band (the global speed applies). */
  zones: Record<string, Array<number | null>>;
  trips: number;
}

export class ZoneSpeedTable {
  /** Each zone's speeds with the global ones where it has none: a table is never changed, so neither are these. */
  private readonly merged = new Map<string, readonly number[]>();

  private constructor(private readonly data: ZoneSpeedTableJson) {}

  static defaults(speedKmh: number, timezone: string, resolution: number): ZoneSpeedTable {
    const global = Array.from({ length: BAND_COUNT }, (_, b) =>
      round2(speedKmh * DEFAULT_DAY_PART_FACTOR[b % 6]!),
    );
    return new ZoneSpeedTable({
      format: 'etaserve.zone-speeds',
      version: 1,
      resolution,
      timezone,
      global,
      zones: {},
      trips: 0,
    });
  }

  static fromJSON(json: unknown): Result<ZoneSpeedTable, string> {
    const j = json as Partial<ZoneSpeedTableJson> | null;
    if (typeof j !== 'object' || j === null || j.format !== 'etaserve.zone-speeds')
      return err('not a zone speed table');
    if (j.version !== 1) return err(`unsupported zone speed table version ${String(j.version)}`);
    if (!Number.isInteger(j.resolution) || typeof j.timezone !== 'string')
      return err('resolution or timezone missing');
    const validSpeed = (v: unknown): boolean => typeof v === 'number' && v > 0 && Number.isFinite(v);
    if (!Array.isArray(j.global) || j.global.length !== BAND_COUNT || !j.global.every(validSpeed))
      return err('global speeds invalid');
    if (typeof j.zones !== 'object' || j.zones === null) return err('zones missing');
    for (const [cell, speeds] of Object.entries(j.zones)) {
      if (
        !Array.isArray(speeds) ||
        speeds.length !== BAND_COUNT ||
        !speeds.every((s) => s === null || validSpeed(s))
      ) {
        return err(`zone ${cell} speeds invalid`);
      }
    }
    return ok(new ZoneSpeedTable({ ...(j as ZoneSpeedTableJson), trips: j.trips ?? 0 }));
  }

  get resolution(): number {
    return this.data.resolution;
  }

  get timezone(): string {
    return this.data.timezone;
  }

  get trips(): number {
    return this.data.trips;
  }

  speedKmh(cell: string, band: number): number {
    return this.speedsOf(cell)[band]!;
  }

  /** The zone's speed in every band (`BAND_COUNT`). */
  speedsOf(cell: string): readonly number[] {
    const own = Object.hasOwn(this.data.zones, cell) ? this.data.zones[cell] : undefined;
    if (!own) return this.data.global;
    let speeds = this.merged.get(cell);
    if (!speeds) this.merged.set(cell, (speeds = own.map((v, b) => v ?? this.data.global[b]!)));
    return speeds;
  }

  toJSON(): ZoneSpeedTableJson {
    return this.data;
  }
}

export interface TravelOptions {
  detourFactor: number;
  handoffSeconds: number;
}

export interface TravelEstimate {
  distanceKm: number;
  travelSeconds: number;
  zoneSpeedKmh: number;
}

/** The terms of the riding time that depend on the origin and the time, not on the destination. */
export type RideTerms = Pick<TravelTerms, 'handoffSeconds' | 'detourFactor' | 'zoneSpeedKmh'>;

/** What every trip from one origin shares, whatever the destination and the order time, but its riders. */
export type RideSnapshot = Omit<TravelSnapshot, 'riders'>;

/** The terms of an origin's trips at `atMs`, from its snapshot: the one rule geo and its trip cache apply. */
export function termsAt(snapshot: TravelSnapshot, atMs: number): TravelTerms {
  return {
    handoffSeconds: snapshot.handoffSeconds,
    detourFactor: snapshot.detourFactor,
    zoneSpeedKmh: snapshot.bandSpeedsKmh[bandAt(snapshot.timezone, atMs)]!,
    ridersAvailable: ridersAt(snapshot.riders, atMs),
  };
}

/**
 * Door-to-door riding time over a straight-line distance: handoff + distance × detour / zone speed. The one
 * formula: geo's trips, its trip cache (src/geo/cached-geo.ts) and the training tables all compute it here.
 */
export function rideSeconds(terms: RideTerms, distanceKm: number): number {
  return terms.handoffSeconds + ((distanceKm * terms.detourFactor) / terms.zoneSpeedKmh) * 3600;
}

/** Geo's trip from `origin` to `destination` under the origin's terms at the time. */
export function tripFrom(origin: TripOrigin, destination: LatLng, terms: TravelTerms): TripEstimate {
  const distanceKm = haversineKm(origin.location, destination);
  return {
    id: origin.id,
    distanceKm,
    travelSeconds: rideSeconds(terms, distanceKm),
    zoneSpeedKmh: terms.zoneSpeedKmh,
    ridersAvailable: terms.ridersAvailable,
    withinRadius: distanceKm <= origin.radiusKm,
  };
}

/**
 * Door-to-door riding time from the store's zone speed: the same estimate online and in training tables. Its terms
 * depend on the origin and the hour band only; geo answers them as a snapshot of the origin for every band
 * (`snapshot`), which its trip cache keeps per store and applies to each order's time and destination
 * (src/geo/cached-geo.ts).
 */
export class TravelEstimator {
  private readonly cells: CellCache;

  constructor(
    readonly table: ZoneSpeedTable,
    private readonly options: TravelOptions,
  ) {
    this.cells = new CellCache(table.resolution);
  }

  snapshot(origin: LatLng): RideSnapshot {
    return {
      handoffSeconds: this.options.handoffSeconds,
      detourFactor: this.options.detourFactor,
      timezone: this.table.timezone,
      bandSpeedsKmh: [...this.table.speedsOf(this.cells.cellOf(origin.lat, origin.lng))],
    };
  }

  terms(origin: LatLng, atMs: number): RideTerms {
    return {
      handoffSeconds: this.options.handoffSeconds,
      detourFactor: this.options.detourFactor,
      zoneSpeedKmh: this.table.speedKmh(
        this.cells.cellOf(origin.lat, origin.lng),
        bandAt(this.table.timezone, atMs),
      ),
    };
  }

  estimate(origin: LatLng, destination: LatLng, atMs: number): TravelEstimate {
    const distanceKm = haversineKm(origin, destination);
    const terms = this.terms(origin, atMs);
    return { distanceKm, travelSeconds: rideSeconds(terms, distanceKm), zoneSpeedKmh: terms.zoneSpeedKmh };
  }
}

export interface ObservedTrip {
  origin: LatLng;
  destination: LatLng;
  departedAtMs: number;
  durationSeconds: number;
  timezone: string;
}

export interface LearnOptions extends TravelOptions {
  resolution: number;
  defaultSpeedKmh: number;
  /** Weight of the global band speed, in trips: a zone with this many trips is half its own, half global. */
  priorTrips?: number;
}

/**
 * Speeds per zone and band from completed trips. Medians resist the odd rider who stopped for fuel; sparse zones
 * shrink toward the global band speed so one slow trip cannot brand a zone.
 */
export function learnZoneSpeeds(trips: Iterable<ObservedTrip>, options: LearnOptions): ZoneSpeedTableJson {
  const prior = options.priorTrips ?? 10;
  const byBand: number[][] = Array.from({ length: BAND_COUNT }, () => []);
  const byZone = new Map<string, number[][]>();
  const timezones = new Map<string, number>();
  let used = 0;
  for (const trip of trips) {
    const moving = trip.durationSeconds - options.handoffSeconds;
    const km = haversineKm(trip.origin, trip.destination) * options.detourFactor;
    if (!(moving >= 30) || !(km >= 0.2)) continue;
    const speed = km / (moving / 3600);
    if (speed < 2 || speed > 80) continue;
    const band = bandAt(trip.timezone, trip.departedAtMs);
    const cell = latLngToCell(trip.origin.lat, trip.origin.lng, options.resolution);
    byBand[band]!.push(speed);
    let zone = byZone.get(cell);
    if (!zone) byZone.set(cell, (zone = Array.from({ length: BAND_COUNT }, () => [])));
    zone[band]!.push(speed);
    timezones.set(trip.timezone, (timezones.get(trip.timezone) ?? 0) + 1);
    used++;
  }
  const timezone = [...timezones.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'UTC';
  const fallback = ZoneSpeedTable.defaults(options.defaultSpeedKmh, timezone, options.resolution).toJSON()
    .global;
  const global = byBand.map((speeds, b) => (speeds.length >= 5 ? round2(median(speeds)) : fallback[b]!));
  const zones: Record<string, Array<number | null>> = {};
  for (const [cell, bands] of byZone) {
    zones[cell] = bands.map((speeds, b) =>
      speeds.length === 0
        ? null
        : round2((speeds.length * median(speeds) + prior * global[b]!) / (speeds.length + prior)),
    );
  }
  return {
    format: 'etaserve.zone-speeds',
    version: 1,
    resolution: options.resolution,
    timezone,
    global,
    zones,
    trips: used,
  };
}

function median(values: number[]): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;
