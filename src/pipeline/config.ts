import { Type, type Static } from 'typebox';

/** The `pipeline` section. */
export const pipelineConfigSchema = Type.Object(
  {
    port: Type.Integer({
      default: 8093,
      minimum: 0,
      maximum: 65535,
      description: 'Port of the pipeline process when it runs alone',
    }),
    trees: Type.Integer({
      default: 300,
      minimum: 1,
      maximum: 10_000,
      description: 'Upper bound on boosting rounds per quantile (early stopping usually ends sooner)',
    }),
    trainShare: Type.Number({
      default: 0.7,
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      description: 'Oldest share of orders to train on',
    }),
    validShare: Type.Number({
      default: 0.15,
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      description:
        'Next share, for early stopping and range calibration; the newest rest is the test hold-out',
    }),
  },
  { default: {} },
);

export type PipelineConfig = Static<typeof pipelineConfigSchema>;
