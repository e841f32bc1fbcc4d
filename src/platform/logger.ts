import { pino, type Logger } from 'pino';

export type { Logger };

/** Keys and secrets never reach the logs, whatever object carries them. */
const REDACT = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'apiKey',
  'api_key',
  '*.apiKey',
  '*.api_key',
  'password',
  '*.password',
  'postgresUrl',
  '*.postgresUrl',
];

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** Pretty lines for a person at a terminal; JSON otherwise. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.name ?? 'etaserve' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
