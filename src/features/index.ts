export {
  buildFeatureVector,
  categoryCode,
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_SPEC,
  FEATURE_VERSION,
  FEATURES,
  STORE_CATEGORIES,
  type OrderInput,
  type StoreCategory,
  type StoreSnapshot,
  type TripSnapshot,
} from './definition.js';
export {
  formatIsoWithOffset,
  isValidTimezone,
  localTime,
  utcOffsetMs,
  type LocalTime,
} from './local-time.js';
export { haversineKm, KM_PER_DEG_LAT, kmPerDegLng, offsetKm, type LatLng } from './geometry.js';
export { daypart, RANGE_SEGMENT_COLUMNS, rangeSegment, storeZone, type RangeSegment } from './segments.js';
export { LatLngSchema, StoreIdSchema } from './schemas.js';
