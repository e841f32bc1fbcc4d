import { Type, type Static } from 'typebox';

/** The `store` section. Variables are `ETASERVE_STORE_<KEY>` (`ETASERVE_STORE_POSTGRES_URL`). */
export const storeConfigSchema = Type.Object(
  {
    port: Type.Integer({
      default: 8091,
      minimum: 0,
      maximum: 65_535,
      description: 'Port of the store process when it runs as its own target (its internal API)',
    }),
    database: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], {
      default: 'sqlite',
      description: 'Where the store catalog lives: SQLite for one process, PostgreSQL for a fleet',
    }),
    sqlitePath: Type.String({
      default: '',
      description: 'SQLite file of the catalog; empty means <dataDir>/etaserve.db',
    }),
    postgresUrl: Type.String({
      default: '',
      description:
        'PostgreSQL connection URL (postgres://user:pass@host:5432/db), required when database=postgres',
    }),
    postgresPoolSize: Type.Integer({
      default: 10,
      minimum: 1,
      maximum: 200,
      description: 'Connections per process in the PostgreSQL pool',
    }),
    queryTimeoutMs: Type.Integer({
      default: 5_000,
      minimum: 100,
      maximum: 120_000,
      description: 'A catalog query slower than this fails as database_unavailable instead of hanging',
    }),
    prepEwmaAlpha: Type.Number({
      default: 0.2,
      exclusiveMinimum: 0,
      maximum: 1,
      description:
        'Weight of each new prep time in the EWMA of its hour-of-week slot (0.2: about the last 10 orders count)',
    }),
    kitchenOrderTtlMinutes: Type.Integer({
      default: 180,
      minimum: 1,
      maximum: 1_440,
      description:
        'An accepted order never marked ready or cancelled stops counting as in the kitchen after this',
    }),
    profileCacheSize: Type.Integer({
      default: 10_000,
      minimum: 0,
      maximum: 1_000_000,
      description: 'Store profiles kept in the in-process cache (0 disables it)',
    }),
    profileCacheTtlMs: Type.Integer({
      default: 30_000,
      minimum: 0,
      maximum: 3_600_000,
      description:
        'How long a cached store profile is served before it is read again (writes through another process show up after this)',
    }),
    maxPageSize: Type.Integer({
      default: 500,
      minimum: 1,
      maximum: 10_000,
      description: 'Largest page of stores one list call returns',
    }),
  },
  { default: {} },
);

export type StoreConfig = Static<typeof storeConfigSchema>;
