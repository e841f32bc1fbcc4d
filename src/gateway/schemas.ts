import { Type, type Static } from 'typebox';
import { LatLngSchema, StoreIdSchema } from '../features/index.js';
import { errorBodyOf } from '../platform/index.js';

const LatLng = LatLngSchema;
const StoreId = StoreIdSchema;
const OrderedAt = Type.String({
  format: 'date-time',
  description:
    'ISO 8601 with an offset; defaults to now. Refused (400) outside gateway.orderedAtMaxPastDays before now to gateway.orderedAtMaxFutureDays after (30 and 7 days by default)',
});

export const EtaBody = Type.Object(
  {
    store_id: StoreId,
    destination: LatLng,
    items: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    subtotal: Type.Optional(Type.Number({ minimum: 0, maximum: 1_000_000 })),
    ordered_at: Type.Optional(OrderedAt),
  },
  { additionalProperties: false },
);
export type EtaBody = Static<typeof EtaBody>;

export const BatchBody = Type.Object(
  {
    destination: LatLng,
    store_ids: Type.Array(StoreId, { minItems: 1, maxItems: 100 }),
    items: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    subtotal: Type.Optional(Type.Number({ minimum: 0, maximum: 1_000_000 })),
    ordered_at: Type.Optional(OrderedAt),
  },
  { additionalProperties: false },
);
export type BatchBody = Static<typeof BatchBody>;

const Components = Type.Object({
  prep_seconds: Type.Integer({ description: "The store's expected prep time now" }),
  travel_seconds: Type.Integer({ description: 'Expected rider travel time from store to destination' }),
  other_seconds: Type.Integer({
    description:
      'What the model adds beyond prep and travel: rider wait, handover (may be negative when they overlap)',
  }),
  distance_km: Type.Number(),
});

export const EtaAnswer = Type.Object({
  store_id: Type.String(),
  eta_seconds: Type.Integer({ description: 'Median predicted delivery time from the order' }),
  range_seconds: Type.Array(Type.Integer(), { minItems: 2, maxItems: 2, description: 'p10 and p90' }),
  promised_at: Type.String({ description: 'The time to show the customer, in the store timezone' }),
  components: Components,
  model_version: Type.String(),
  degraded: Type.Boolean(),
  request_id: Type.String(),
});
export type EtaAnswer = Static<typeof EtaAnswer>;

export const ErrorBody = errorBodyOf({ opens_at: Type.Optional(Type.Union([Type.String(), Type.Null()])) });

export const BatchAnswer = Type.Object({
  results: Type.Array(
    Type.Union([EtaAnswer, Type.Object({ store_id: Type.String(), error: ErrorBody.properties.error })]),
  ),
  request_id: Type.String(),
});
