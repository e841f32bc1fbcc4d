import { Type } from 'typebox';

/** A point on the map, as every API takes it (the store's location, an order's destination). */
export const LatLngSchema = Type.Object(
  {
    lat: Type.Number({ minimum: -90, maximum: 90, description: 'Latitude, degrees' }),
    lng: Type.Number({ minimum: -180, maximum: 180, description: 'Longitude, degrees' }),
  },
  { additionalProperties: false },
);

/** A store's id, as the catalog accepts it and every API refers to it. */
export const StoreIdSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9_.:-]+$',
  description: 'Your id for the store: 1-64 of A-Z a-z 0-9 _ . : -',
});
