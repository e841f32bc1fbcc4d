import { Type, type Static } from 'typebox';

export const predictorConfigSchema = Type.Object(
  {
    port: Type.Integer({
      default: 8100,
      minimum: 0,
      maximum: 65535,
      description: 'Port of a predictor process',
    }),
    modelName: Type.String({
      default: 'eta',
      minLength: 1,
      description: 'Model name in the Open Inference Protocol',
    }),
    modelFile: Type.String({
      default: '',
      description:
        'Serve this artifact (etaserve or XGBoost JSON) instead of the registry champion; for raw-model benchmarks',
    }),
    aliasPollMs: Type.Integer({
      default: 1000,
      minimum: 100,
      maximum: 600_000,
      description: 'How often predictors check the registry aliases',
    }),
    featureDeadlineMs: Type.Integer({
      default: 50,
      minimum: 1,
      maximum: 10_000,
      description: 'Deadline for fetching store and geo features; past it the answer is degraded',
    }),
    warmupRows: Type.Integer({
      default: 2000,
      minimum: 0,
      maximum: 1_000_000,
      description: 'Rows predicted to warm a model before it serves',
    }),
  },
  { default: {} },
);

export type PredictorConfig = Static<typeof predictorConfigSchema>;
