import { Type, type Static } from 'typebox';

export const gatewayConfigSchema = Type.Object(
  {
    port: Type.Integer({
      default: 8080,
      minimum: 0,
      maximum: 65535,
      description: 'Port of the public API and console',
    }),
    bodyLimitBytes: Type.Integer({
      default: 1_048_576,
      minimum: 1024,
      maximum: 16_777_216,
      description: 'Largest request body',
    }),
    maxBatchStores: Type.Integer({
      default: 100,
      minimum: 1,
      maximum: 1000,
      description: 'Most stores in one /v1/eta/batch',
    }),
    orderedAtMaxPastDays: Type.Number({
      default: 30,
      minimum: 0,
      maximum: 3650,
      description:
        'An ETA request whose ordered_at is further back than this is refused (400, field ordered_at)',
    }),
    orderedAtMaxFutureDays: Type.Number({
      default: 7,
      minimum: 0,
      maximum: 3650,
      description:
        'An ETA request whose ordered_at is further ahead than this is refused (400, field ordered_at)',
    }),
    predictorTimeoutMs: Type.Integer({
      default: 250,
      minimum: 1,
      maximum: 60_000,
      description: 'Deadline for one call to a predictor replica',
    }),
    demoApiKey: Type.String({
      default: '',
      env: 'ETASERVE_DEMO_API_KEY',
      description:
        'The demo key (every scope), only in the loopback demo shapes (start --target all, up); generated and printed at start when empty; refused elsewhere',
    }),
    adminKeyFile: Type.String({
      default: '',
      description:
        'File holding an admin key (a mounted secret), accepted by its hash; without it the first start outside the demo shapes creates an admin key and prints it once',
    }),
    demoRateLimitPerSecond: Type.Integer({
      default: 100_000,
      minimum: 1,
      description: 'Requests per second allowed to the demo key',
    }),
    defaultRateLimitPerSecond: Type.Integer({
      default: 200,
      minimum: 1,
      description: 'Requests per second allowed to a key without its own limit',
    }),
    promiseQuantile: Type.Union([Type.Literal('p10'), Type.Literal('p50'), Type.Literal('p90')], {
      default: 'p50',
      description: 'Which predicted quantile the customer promise starts from',
    }),
    promiseBufferSeconds: Type.Integer({
      default: 180,
      minimum: 0,
      maximum: 7200,
      description: 'Added to the quantile for the promise',
    }),
    promiseRoundMinutes: Type.Integer({
      default: 1,
      minimum: 1,
      maximum: 60,
      description: 'The promise is rounded up to this many minutes',
    }),
    requestDeadlineMs: Type.Integer({
      default: 800,
      minimum: 1,
      maximum: 60_000,
      description:
        'Deadline of one ETA request across predictor retries and hedges; past it the fallback ETA answers',
    }),
    maxAttempts: Type.Integer({
      default: 3,
      minimum: 1,
      maximum: 10,
      description: 'Attempts per request on distinct predictor replicas (first included)',
    }),
    retryBudgetRatio: Type.Number({
      default: 0.2,
      minimum: 0,
      maximum: 1,
      description: 'Retries and hedges may add at most this share of the request load (Envoy retry budget)',
    }),
    retryBudgetMinRetries: Type.Integer({
      default: 10,
      minimum: 0,
      description: 'Retries allowed per 10 s whatever the load, so a quiet gateway can still retry',
    }),
    hedgeDelayMs: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 10_000,
      description:
        'Send a second attempt to another replica after this long without an answer; 0 = no hedging',
    }),
    breakerConsecutiveFailures: Type.Integer({
      default: 5,
      minimum: 1,
      description: 'A replica breaker opens after this many failures in a row',
    }),
    breakerFailureRatio: Type.Number({
      default: 0.5,
      minimum: 0.01,
      maximum: 1,
      description:
        'A replica breaker also opens when this share of its calls in 10 s failed (20 calls at least)',
    }),
    breakerOpenMs: Type.Integer({
      default: 2000,
      minimum: 10,
      maximum: 600_000,
      description: 'How long an open breaker refuses calls before one probe',
    }),
    outlierConsecutiveFailures: Type.Integer({
      default: 3,
      minimum: 1,
      description: 'A replica leaves the balancing set after this many failures in a row',
    }),
    outlierBaseEjectionMs: Type.Integer({
      default: 1000,
      minimum: 10,
      description: 'First ejection time; doubled, tripled... while it keeps failing (at most 30 s)',
    }),
    maxInFlight: Type.Integer({
      default: 512,
      minimum: 1,
      description: 'Requests in flight per gateway process; past it a fast 503 with Retry-After',
    }),
    batchMaxInFlight: Type.Integer({
      default: 256,
      minimum: 1,
      description:
        'In-flight bound at which list-page batches are shed, lower than maxInFlight so checkout ETAs go last',
    }),
    corsOrigins: Type.Array(Type.String(), {
      default: [],
      description:
        "Origins allowed to call the API from a browser (comma-separated in the env); empty = CORS off, '*' = any",
    }),
    responseCache: Type.Boolean({
      default: true,
      description: 'Cache ETA answers at the gateway (the responses cache)',
    }),
    rateLimitRedis: Type.Boolean({
      default: true,
      description:
        'Count rate limits in the cache Redis when one is configured, so they hold across gateways',
    }),
    fallbackSpeedKmh: Type.Number({
      default: 18,
      minimum: 1,
      maximum: 200,
      description: 'Rider speed used by the fallback ETA when no predictor answers',
    }),
    warmUpRequests: Type.Integer({
      default: 8000,
      minimum: 0,
      maximum: 100_000,
      description:
        'ETA requests the gateway sends itself before it turns ready, so real traffic meets warm code; 0 = none',
    }),
  },
  { default: {} },
);

export type GatewayConfig = Static<typeof gatewayConfigSchema>;
