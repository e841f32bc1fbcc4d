import { Type, type Static } from 'typebox';

export const gatewayConfigSchema = Type.Object(
  {
    port: Type.Integer({ default: 8080, minimum: 0, maximum: 65535, description: 'Port of the public API and console' }),
    bodyLimitBytes: Type.Integer({ default: 1_048_576, minimum: 1024, maximum: 16_777_216, description: 'Largest request body' }),
    maxBatchStores: Type.Integer({ default: 100, minimum: 1, maximum: 1000, description: 'Most stores in one /v1/eta/batch' }),
    predictorTimeoutMs: Type.Integer({ default: 250, minimum: 1, maximum: 60_000, description: 'Deadline for one call to a predictor replica' }),
    demoApiKey: Type.String({
      default: '',
      env: 'ETASERVE_DEMO_API_KEY',
      description: 'A key with every scope for demos and benchmarks; generated and printed at start when empty',
    }),
    demoRateLimitPerSecond: Type.Integer({ default: 100_000, minimum: 1, description: 'Requests per second allowed to the demo key' }),
    defaultRateLimitPerSecond: Type.Integer({ default: 200, minimum: 1, description: 'Requests per second allowed to a key without its own limit' }),
    promiseQuantile: Type.Union([Type.Literal('p10'), Type.Literal('p50'), Type.Literal('p90')], {
      default: 'p50',
      description: 'Which predicted quantile the customer promise starts from',
    }),
    promiseBufferSeconds: Type.Integer({ default: 180, minimum: 0, maximum: 7200, description: 'Added to the quantile for the promise' }),
    promiseRoundMinutes: Type.Integer({ default: 1, minimum: 1, maximum: 60, description: 'The promise is rounded up to this many minutes' }),
    fallbackSpeedKmh: Type.Number({ default: 18, minimum: 1, maximum: 200, description: 'Rider speed used by the fallback ETA when no predictor answers' }),
  },
  { default: {} },
);

export type GatewayConfig = Static<typeof gatewayConfigSchema>;
