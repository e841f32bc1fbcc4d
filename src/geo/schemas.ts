import { Type, type Static } from 'typebox';
import { LatLngSchema } from '../features/index.js';
import { BAND_COUNT } from './travel.js';
import type { TravelSnapshot, TravelTerms } from './types.js';

const { lat: Lat, lng: Lng } = LatLngSchema.properties;
const EpochMs = Type.Number({ minimum: 0, maximum: 8.64e15, description: 'Unix time, milliseconds' });

export const MAX_ORIGINS = 500;
export const MAX_RIDER_LOCATIONS = 10_000;

export const TripsBody = Type.Object(
  {
    destination: LatLngSchema,
    origins: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1, maxLength: 128 }),
          location: LatLngSchema,
          radius_km: Type.Number({ minimum: 0, maximum: 100 }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_ORIGINS },
    ),
    at_ms: Type.Optional(EpochMs),
  },
  { additionalProperties: false },
);
export type TripsBody = Static<typeof TripsBody>;

export const TripJson = Type.Object({
  id: Type.String(),
  distance_km: Type.Number(),
  travel_seconds: Type.Number(),
  zone_speed_kmh: Type.Number(),
  riders_available: Type.Union([Type.Integer(), Type.Null()]),
  within_radius: Type.Boolean(),
});
export type TripJson = Static<typeof TripJson>;

/**
 * A `TravelTerms` as it is, field for field: neither side converts it (as the predictor's internal wire). The trips
 * keep the shape geos and clients of every version read and write.
 */
export const TravelTermsJson = Type.Object({
  handoffSeconds: Type.Number(),
  detourFactor: Type.Number(),
  zoneSpeedKmh: Type.Number(),
  ridersAvailable: Type.Union([Type.Integer(), Type.Null()]),
});

export const TripsResponse = Type.Object({
  trips: Type.Array(TripJson),
  /** Each origin's terms, in order (a predictor of the version before caches them). */
  terms: Type.Optional(Type.Array(TravelTermsJson)),
});
export type TripsResponse = Static<typeof TripsResponse>;

export const TravelBody = Type.Object(
  { origins: Type.Array(LatLngSchema, { minItems: 1, maxItems: MAX_ORIGINS }) },
  { additionalProperties: false },
);
export type TravelBody = Static<typeof TravelBody>;

/** A `TravelSnapshot` as it is, field for field, as `TravelTermsJson`. */
export const TravelSnapshotJson = Type.Object({
  handoffSeconds: Type.Number(),
  detourFactor: Type.Number(),
  timezone: Type.String({ minLength: 1 }),
  bandSpeedsKmh: Type.Array(Type.Number({ exclusiveMinimum: 0 }), {
    minItems: BAND_COUNT,
    maxItems: BAND_COUNT,
  }),
  riders: Type.Object({
    pingsMs: Type.Array(Type.Number()),
    lastPingMs: Type.Union([Type.Number(), Type.Null()]),
    ttlMs: Type.Number({ minimum: 0 }),
  }),
});

export const TravelResponse = Type.Object({
  /** In the order of the origins. */
  snapshots: Type.Array(TravelSnapshotJson),
});
export type TravelResponse = Static<typeof TravelResponse>;

// The schemas and the in-process types are one contract: this fails to compile when they drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const termsMatch: Same<Static<typeof TravelTermsJson>, TravelTerms> = true;
const snapshotMatch: Same<Static<typeof TravelSnapshotJson>, TravelSnapshot> = true;
void termsMatch;
void snapshotMatch;

export const RidersBody = Type.Object(
  {
    riders: Type.Array(
      Type.Object(
        {
          rider_id: Type.String({ minLength: 1, maxLength: 128 }),
          lat: Lat,
          lng: Lng,
          at_ms: EpochMs,
          available: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_RIDER_LOCATIONS },
    ),
  },
  { additionalProperties: false },
);
export type RidersBody = Static<typeof RidersBody>;

export const RidersResponse = Type.Object({ accepted: Type.Integer() });
export type RidersResponse = Static<typeof RidersResponse>;

export const ErrorResponse = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) }),
});
