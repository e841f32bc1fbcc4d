import { Type, type Static } from 'typebox';
import { LatLngSchema } from '../features/index.js';

export const InternalBatchBody = Type.Object(
  {
    store_ids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 100 }),
    destination: LatLngSchema,
    // Within what a Date can hold: the gateway checks the plausible window; this keeps nonsense from the model.
    ordered_at_ms: Type.Number({ minimum: 0, maximum: 8.64e15 }),
    items: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    subtotal: Type.Optional(Type.Number({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
export type InternalBatchBody = Static<typeof InternalBatchBody>;

export const PredictionSchema = Type.Object({
  store_id: Type.String(),
  p10: Type.Number(),
  p50: Type.Number(),
  p90: Type.Number(),
  prep_seconds: Type.Number(),
  travel_seconds: Type.Number(),
  distance_km: Type.Number(),
  timezone: Type.String(),
  model_version: Type.String(),
  degraded: Type.Boolean(),
  degraded_reasons: Type.Array(Type.String()),
});

export const ResultErrorSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String()),
  opens_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});

export const InternalBatchResponse = Type.Object({
  results: Type.Array(
    Type.Object({
      prediction: Type.Optional(PredictionSchema),
      error: Type.Optional(ResultErrorSchema),
    }),
  ),
});
export type InternalBatchResponse = Static<typeof InternalBatchResponse>;

// Open Inference Protocol v2 (KServe): https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/
const Datatype = Type.Union(['FP64', 'FP32', 'INT64', 'INT32'].map((d) => Type.Literal(d)));

export const OipTensor = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 128 }),
  shape: Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1, maxItems: 2 }),
  datatype: Datatype,
  parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  // Flat (row-major) or nested one level; null stands for a missing value.
  data: Type.Array(
    Type.Union([Type.Number(), Type.Null(), Type.Array(Type.Union([Type.Number(), Type.Null()]))]),
    { maxItems: 1_000_000 },
  ),
});

export const OipInferBody = Type.Object({
  id: Type.Optional(Type.String({ maxLength: 256 })),
  parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  inputs: Type.Array(OipTensor, { minItems: 1, maxItems: 256 }),
  outputs: Type.Optional(Type.Array(Type.Object({ name: Type.String() }))),
});
export type OipInferBody = Static<typeof OipInferBody>;

export const OipInferResponse = Type.Object({
  model_name: Type.String(),
  model_version: Type.String(),
  id: Type.Optional(Type.String()),
  outputs: Type.Array(
    Type.Object({
      name: Type.String(),
      shape: Type.Array(Type.Integer()),
      datatype: Type.String(),
      data: Type.Array(Type.Number()),
    }),
  ),
});

export const OipModelMetadata = Type.Object({
  name: Type.String(),
  versions: Type.Array(Type.String()),
  platform: Type.String(),
  inputs: Type.Array(
    Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) }),
  ),
  outputs: Type.Array(
    Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) }),
  ),
  // OIP parameters are scalars (string, number, boolean), so lists travel comma-separated.
  parameters: Type.Optional(
    Type.Object(
      {
        feature_names: Type.String({
          description:
            'The columns of input-0, in order, comma-separated (also the names of per-feature inputs)',
        }),
        feature_count: Type.Integer(),
        input_layout: Type.String(),
      },
      { additionalProperties: Type.Union([Type.String(), Type.Number(), Type.Boolean()]) },
    ),
  ),
});

export const ModelParams = Type.Object({
  name: Type.String({ maxLength: 128 }),
  version: Type.Optional(Type.String({ maxLength: 64 })),
});
export type ModelParams = Static<typeof ModelParams>;
