import { latLngToCell } from 'h3-js';
import { haversineKm, type LatLng } from '../features/index.js';
import type { GeoConfig } from './config.js';
import { RiderSupply } from './rider-supply.js';
import { termsAt, TravelEstimator, tripFrom, ZoneSpeedTable } from './travel.js';
import type { GeoTravel, TravelSnapshot, TripEstimate, TripOrigin, TripsAndTerms } from './types.js';

/** In-process geo: travel estimates from learned zone speeds, and rider supply from recent positions. */
export class GeoService implements GeoTravel {
  readonly supply: RiderSupply;
  private estimator: TravelEstimator;

  constructor(private readonly config: GeoConfig) {
    this.supply = new RiderSupply({ resolution: config.h3Resolution, ttlMs: config.riderTtlSeconds * 1000 });
    this.estimator = this.estimatorFor(
      ZoneSpeedTable.defaults(config.defaultSpeedKmh, config.timezone, config.h3Resolution),
    );
  }

  /** Swaps the speed table atomically: a request in flight sees the old table or the new one, never a mix. */
  setSpeeds(table: ZoneSpeedTable): void {
    this.estimator = this.estimatorFor(table);
  }

  get speeds(): ZoneSpeedTable {
    return this.estimator.table;
  }

  async trips(destination: LatLng, origins: readonly TripOrigin[], atMs: number): Promise<TripEstimate[]> {
    return this.tripsAndTermsSync(destination, origins, atMs).trips;
  }

  async travel(locations: readonly LatLng[]): Promise<TravelSnapshot[]> {
    return this.travelSync(locations);
  }

  /** Each location's snapshot now: one speed table for the whole answer. */
  travelSync(locations: readonly LatLng[]): TravelSnapshot[] {
    const estimator = this.estimator;
    return locations.map((l) => ({ ...estimator.snapshot(l), riders: this.supply.near(l) }));
  }

  /** Each origin's terms at `atMs`, and the trip to `destination` they make, both from the origin's snapshot. */
  tripsAndTermsSync(destination: LatLng, origins: readonly TripOrigin[], atMs: number): TripsAndTerms {
    const snapshots = this.travelSync(origins.map((o) => o.location));
    const terms = snapshots.map((s) => termsAt(s, atMs));
    return { trips: origins.map((origin, i) => tripFrom(origin, destination, terms[i]!)), terms };
  }

  recordRiderLocation(riderId: string, lat: number, lng: number, atMs: number, available: boolean): void {
    this.supply.recordRiderLocation(riderId, lat, lng, atMs, available);
  }

  cellOf(location: LatLng, resolution: number = this.config.h3Resolution): string {
    return latLngToCell(location.lat, location.lng, resolution);
  }

  withinRadius(origin: LatLng, destination: LatLng, radiusKm: number): boolean {
    return haversineKm(origin, destination) <= radiusKm;
  }

  private estimatorFor(table: ZoneSpeedTable): TravelEstimator {
    return new TravelEstimator(table, {
      detourFactor: this.config.detourFactor,
      handoffSeconds: this.config.handoffSeconds,
    });
  }
}
