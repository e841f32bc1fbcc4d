import { latLngToCell } from 'h3-js';
import { haversineKm, type LatLng } from '../features/index.js';
import type { GeoConfig } from './config.js';
import { RiderSupply } from './rider-supply.js';
import { TravelEstimator, ZoneSpeedTable } from './travel.js';
import type { GeoFeatures, TripEstimate, TripOrigin } from './types.js';

/** In-process geo: travel estimates from learned zone speeds, and rider supply from recent positions. */
export class GeoService implements GeoFeatures {
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
    return this.tripsSync(destination, origins, atMs);
  }

  tripsSync(destination: LatLng, origins: readonly TripOrigin[], atMs: number): TripEstimate[] {
    const estimator = this.estimator;
    return origins.map((origin) => {
      const t = estimator.estimate(origin.location, destination, atMs);
      return {
        id: origin.id,
        distanceKm: t.distanceKm,
        travelSeconds: t.travelSeconds,
        zoneSpeedKmh: t.zoneSpeedKmh,
        ridersAvailable: this.supply.ridersNear(origin.location, atMs),
        withinRadius: t.distanceKm <= origin.radiusKm,
      };
    });
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
