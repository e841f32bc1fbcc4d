import path from 'node:path';
import { Type, type Static } from 'typebox';

/**
 * Timeouts and bounds of every HTTP server (`platform.http`): a client that sends nothing, or headers and then never
 * its body, is answered 408 and dropped instead of holding a socket and a request slot for minutes.
 */
export const httpServerConfigSchema = Type.Object(
  {
    headersTimeoutMs: Type.Integer({
      default: 10_000,
      minimum: 100,
      maximum: 600_000,
      description:
        'A connection must send a request line and all its headers within this long (capped at requestTimeoutMs)',
    }),
    requestTimeoutMs: Type.Integer({
      default: 30_000,
      minimum: 100,
      maximum: 600_000,
      description:
        'A request must arrive whole, headers and body, within this long; past it 408 and the socket closes',
    }),
    keepAliveTimeoutMs: Type.Integer({
      default: 65_000,
      minimum: 1000,
      maximum: 600_000,
      description:
        'An idle keep-alive connection is closed after this long; above a load balancer idle timeout (60 s on most) so the balancer closes first',
    }),
    maxConnections: Type.Integer({
      default: 4096,
      minimum: 16,
      maximum: 1_000_000,
      description: 'Open connections per server; past it new connections are closed at once',
    }),
    maxHeaderBytes: Type.Integer({
      default: 16_384,
      minimum: 1024,
      maximum: 1_048_576,
      description: 'Largest request line and headers; past it 431',
    }),
  },
  { default: {} },
);

export type HttpServerConfig = Static<typeof httpServerConfigSchema>;

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
    http: httpServerConfigSchema,
    host: Type.String({
      default: '127.0.0.1',
      description: 'Address the servers bind to (0.0.0.0 in containers)',
    }),
    internalPort: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 65535,
      description:
        'Port of the internal listener of a gateway process that also runs store, geo or predictor for other processes; 0 = none (those modules then serve only their own process)',
    }),
    internalToken: Type.String({
      default: '',
      description:
        'Shared token every internal route requires (header x-etaserve-internal-token) and every internal client sends; required to serve internal routes on a non-loopback address',
    }),
    internalTokenFile: Type.String({
      default: '',
      description: 'File holding the internal token (a mounted secret); wins over internalToken',
    }),
  },
  { default: {} },
);

export type PlatformConfig = Static<typeof platformConfigSchema>;

/** The deployment's SQLite file (catalog, registry, keys): `store.sqlitePath`, or `etaserve.db` in the data dir. */
export function deploymentSqliteFile(sqlitePath: string, dataDir: string): string {
  return sqlitePath || path.join(dataDir, 'etaserve.db');
}

/** 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase();
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127(\.\d{1,3}){3}$/.test(h);
}
