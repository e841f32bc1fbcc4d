import { Type, type Static } from 'typebox';
import { LatLngSchema, StoreIdSchema } from '../features/index.js';

/**
 * The store API's JSON, snake_case. These schemas validate structure and ranges at the edge (and document the API);
 * `validate.ts` adds what a schema cannot say (an IANA timezone, p90 >= mean) and is also run by every catalog.
 */
export const StoreId = StoreIdSchema;

const Clock = Type.String({
  pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$',
  description: 'Local time HH:MM',
});
const Interval = Type.Tuple([Clock, Clock], {
  description:
    'Opens, closes. A close not after the open runs past midnight and belongs to the day it opens: ["23:00", "11:00"] on mon is open from Monday 23:00 to Tuesday 11:00. ["00:00", "24:00"] is the whole day.',
});
const Day = Type.Optional(Type.Array(Interval, { maxItems: 12 }));
export const OpeningHoursJson = Type.Object(
  { mon: Day, tue: Day, wed: Day, thu: Day, fri: Day, sat: Day, sun: Day },
  {
    additionalProperties: false,
    description:
      'Local opening intervals per weekday in the store timezone. A missing day is closed; {} is open 24/7.',
  },
);

const Location = LatLngSchema;

const PrepProfileJson = Type.Object(
  {
    mean_seconds: Type.Number({ exclusiveMinimum: 0, description: 'Mean preparation time, seconds' }),
    p90_seconds: Type.Number({
      exclusiveMinimum: 0,
      description: '90th percentile preparation time, at least the mean',
    }),
  },
  { additionalProperties: false },
);

const storeFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  location: Location,
  category: Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'pizza, burger, asian, ... (others count as other)',
  }),
  timezone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA timezone, e.g. Europe/Paris' }),
  opening_hours: Type.Optional(OpeningHoursJson),
  delivery_radius_km: Type.Number({ exclusiveMinimum: 0, maximum: 50 }),
  prep_profile: PrepProfileJson,
};
/** Sent back by clients that PUT what they GET: accepted and ignored. */
const timestamps = {
  created_at: Type.Optional(Type.String()),
  updated_at: Type.Optional(Type.String()),
};

export const StoreBody = Type.Object(
  { store_id: StoreId, ...storeFields, ...timestamps },
  { additionalProperties: false },
);
export type StoreBody = Static<typeof StoreBody>;

/** PUT: the id is in the URL; one in the body must be the same. */
export const StorePutBody = Type.Object(
  { store_id: Type.Optional(StoreId), ...storeFields, ...timestamps },
  { additionalProperties: false },
);
export type StorePutBody = Static<typeof StorePutBody>;

const PatchDay = Type.Optional(
  Type.Union([Type.Array(Interval, { maxItems: 12 }), Type.Null()], {
    description: "Replaces this day's intervals; [] or null closes the day",
  }),
);
/** A PATCH merges hours by day; a PUT replaces the week. */
export const OpeningHoursPatchJson = Type.Object(
  { mon: PatchDay, tue: PatchDay, wed: PatchDay, thu: PatchDay, fri: PatchDay, sat: PatchDay, sun: PatchDay },
  {
    additionalProperties: false,
    description:
      'Merged by day into the current hours: a day given replaces that day, [] or null closes it, a day left out is unchanged (a store open 24/7 stays open on the days left out). PUT the store to replace the whole week.',
  },
);

export const StorePatchBody = Type.Partial(
  Type.Object(
    {
      store_id: StoreId,
      ...storeFields,
      opening_hours: OpeningHoursPatchJson,
      ...timestamps,
    },
    { additionalProperties: false },
  ),
  { additionalProperties: false, minProperties: 1 },
);
export type StorePatchBody = Static<typeof StorePatchBody>;

export const StoreJson = Type.Object({
  store_id: Type.String(),
  ...storeFields,
  opening_hours: OpeningHoursJson,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
export type StoreJson = Static<typeof StoreJson>;

export const StoreIdParams = Type.Object({ store_id: StoreId });

export const ListQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10_000, description: 'Stores per page (capped)' }),
    ),
    cursor: Type.Optional(Type.String({ maxLength: 400, description: 'next_cursor of the previous page' })),
  },
  { additionalProperties: false },
);

export const StoreListResponse = Type.Object({
  stores: Type.Array(StoreJson),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }),
});
export type StoreListResponse = Static<typeof StoreListResponse>;

export const ErrorResponse = Type.Object({
  error: Type.Object(
    {
      code: Type.String(),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'The request field at fault' })),
    },
    { additionalProperties: true },
  ),
});

export const MAX_FEATURE_IDS = 1000;
export const MAX_BULK_STORES = 1000;

export const FeaturesBody = Type.Object(
  {
    store_ids: Type.Array(StoreId, { maxItems: MAX_FEATURE_IDS }),
    at_ms: Type.Number({ minimum: 0, maximum: 8.64e15, description: 'Unix time, milliseconds' }),
  },
  { additionalProperties: false },
);

export const FeatureRecordJson = Type.Object({
  store_id: Type.String(),
  location: Location,
  category: Type.String(),
  timezone: Type.String(),
  delivery_radius_km: Type.Number(),
  prep_mean_seconds: Type.Number(),
  prep_p90_seconds: Type.Number(),
  prep_ewma_seconds: Type.Union([Type.Number(), Type.Null()]),
  orders_in_kitchen: Type.Integer(),
  open: Type.Boolean(),
  opens_at: Type.Union([Type.String(), Type.Null()]),
});
export type FeatureRecordJson = Static<typeof FeatureRecordJson>;

export const FeaturesResponse = Type.Object({ stores: Type.Array(FeatureRecordJson) });
export type FeaturesResponse = Static<typeof FeaturesResponse>;

/** One store's live state for every order time (StoreLiveSnapshot). */
export const StoreLiveJson = Type.Object({
  kitchen_until_ms: Type.Array(Type.Number(), {
    description: 'When each order now in the kitchen stops counting, Unix ms',
  }),
  prep_ewma_slots: Type.Union([Type.String(), Type.Null()], {
    description:
      'Prep EWMA seconds per hour of week (Monday 00:00 local = 0): 168 little-endian float32, base64; NaN = none',
  }),
  prep_ewma_overall: Type.Union([Type.Number(), Type.Null()]),
});
export type StoreLiveJson = Static<typeof StoreLiveJson>;

export const LiveResponse = Type.Object({
  stores: Type.Array(Type.Object({ store_id: Type.String(), ...StoreLiveJson.properties })),
});
export type LiveResponse = Static<typeof LiveResponse>;

export const StoreIdsBody = Type.Object(
  { store_ids: Type.Array(StoreId, { maxItems: MAX_FEATURE_IDS }) },
  { additionalProperties: false },
);
export const StoresResponse = Type.Object({ stores: Type.Array(StoreJson) });

export const BulkBody = Type.Object(
  { stores: Type.Array(StoreBody, { maxItems: MAX_BULK_STORES }) },
  { additionalProperties: false },
);
export const BulkResponse = Type.Object({ created: Type.Integer(), updated: Type.Integer() });
export const PutResponse = Type.Object({ store: StoreJson, created: Type.Boolean() });
export const CountResponse = Type.Object({ count: Type.Integer() });
export const NoContent = Type.Null({ description: 'No content' });
