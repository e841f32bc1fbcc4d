import { Type, type Static } from 'typebox';
import { LatLngSchema, StoreIdSchema } from '../features/index.js';
import type { BatchEtaRequest, EtaPrediction } from './types.js';

/**
 * The internal wire is the in-process contract as it is: the body of `POST /internal/predict/batch` is a
 * `BatchEtaRequest` and each answer an `EtaPrediction`, field for field, so neither side converts. The public API
 * (snake_case) is the gateway's alone (`src/gateway/schemas.ts`).
 */
export const BatchEtaRequestSchema = Type.Object(
  {
    storeIds: Type.Array(StoreIdSchema, { minItems: 1, maxItems: 100 }),
    destination: LatLngSchema,
    // Within what a Date can hold: the gateway checks the plausible window; this keeps nonsense from the model.
    orderedAtMs: Type.Number({ minimum: 0, maximum: 8.64e15 }),
    items: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    subtotal: Type.Optional(Type.Number({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

export const EtaPredictionSchema = Type.Object({
  storeId: Type.String(),
  p10: Type.Number(),
  p50: Type.Number(),
  p90: Type.Number(),
  prepSeconds: Type.Number(),
  travelSeconds: Type.Number(),
  distanceKm: Type.Number(),
  timezone: Type.String(),
  modelVersion: Type.String(),
  degraded: Type.Boolean(),
  // Strings, not the closed list: a replica of a newer version may name a reason this one does not know yet.
  degradedReasons: Type.Array(Type.String()),
});

/** An `EtaError` as it crosses: its code, message, field and details (`opens_at` for `store_closed`). */
export const EtaErrorSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String()),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type EtaErrorWire = Static<typeof EtaErrorSchema>;

/**
 * One answer per store, in order: `{ prediction }` or `{ error }`. One object with two optional members rather
 * than a union, so the response serializer needs no validator to pick a branch.
 */
export const BatchEtaResponseSchema = Type.Object({
  results: Type.Array(
    Type.Object({
      prediction: Type.Optional(EtaPredictionSchema),
      error: Type.Optional(EtaErrorSchema),
    }),
  ),
});
export type BatchEtaWireResult = { prediction: EtaPrediction } | { error: EtaErrorWire };
export interface BatchEtaWireResponse {
  results: BatchEtaWireResult[];
}

// The schemas and the in-process types are one contract: these fail to compile when they drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const requestMatches: Same<
  Static<typeof BatchEtaRequestSchema>,
  Omit<BatchEtaRequest, 'storeIds'> & { storeIds: string[] }
> = true;
const predictionMatches: Same<
  Static<typeof EtaPredictionSchema>,
  Omit<EtaPrediction, 'degradedReasons'> & { degradedReasons: string[] }
> = true;
void requestMatches;
void predictionMatches;

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
