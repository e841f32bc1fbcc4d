export { CachedGeo } from './cached-geo.js';
export { GeoClient, type RiderLocation } from './client.js';
export { geoConfigSchema, type GeoConfig } from './config.js';
export { geoModule } from './module.js';
export { createGeoModule, type ChampionSpeeds, type GeoEvents, type GeoModule } from './module.js';
export { applyToRiderSupply, startRiderProjection, type RiderProjectionOptions } from './rider-projection.js';
export { RiderSupply, type RiderSupplyOptions } from './rider-supply.js';
export { GEO_ROUTE_PREFIX, geoRoutes, type GeoRoutes } from './routes.js';
export { GeoService } from './service.js';
export { defaultSpeedsFile, loadZoneSpeeds, saveZoneSpeeds, speedsFileOf } from './speeds-file.js';
export {
  BAND_COUNT,
  hourBand,
  learnZoneSpeeds,
  TravelEstimator,
  ZoneSpeedTable,
  type LearnOptions,
  type ObservedTrip,
  type TravelEstimate,
  type TravelOptions,
  type ZoneSpeedTableJson,
} from './travel.js';
export type {
  GeoFeatures,
  GeoTravel,
  TravelSnapshot,
  TravelTerms,
  TripEstimate,
  TripOrigin,
  TripsAndTerms,
} from './types.js';
