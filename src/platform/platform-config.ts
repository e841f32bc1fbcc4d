import { Type, type Static } from 'typebox';

/** The `platform` section: what every process shares. Its variables drop the section name (`ETASERVE_DATA_DIR`). */
export const platformConfigSchema = Type.Object(
  {
    dataDir: Type.String({
      default: './.etaserve',
      minLength: 1,
      description: 'Directory for all local state',
    }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'Log level' },
    ),
    drainTimeoutMs: Type.Integer({
      default: 10_000,
      minimum: 0,
      maximum: 600_000,
      description: 'On SIGTERM, how long in-flight requests may take to finish',
    }),
    host: Type.String({
      default: '127.0.0.1',
      description: 'Address the servers bind to (0.0.0.0 in containers)',
    }),
  },
  { default: {} },
);

export type PlatformConfig = Static<typeof platformConfigSchema>;
