import { pino, type Bindings, type ChildLoggerOptions, type Logger } from 'pino';

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

const LOG_METHODS = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
  'child',
  'bindings',
  'setBindings',
  'isLevelEnabled',
  'flush',
] as const;

interface LazyState {
  bindings: Bindings;
  options: ChildLoggerOptions | undefined;
  real: Logger | undefined;
}
const STATE = Symbol('etaserve.lazyLogger');
type Lazy = Logger & { [STATE]: LazyState };

function realOf(lazy: Lazy, parent: Logger): Logger {
  const state = lazy[STATE];
  return (state.real ??= parent.child(state.bindings, state.options));
}

const prototypes = new WeakMap<Logger, object>();

/** Per parent, one prototype whose log methods build the real child on first use; the rest is the parent's. */
function lazyPrototype(parent: Logger): object {
  let proto = prototypes.get(parent);
  if (proto) return proto;
  proto = Object.create(parent) as object;
  for (const name of LOG_METHODS) {
    Object.defineProperty(proto, name, {
      configurable: true,
      writable: true,
      value(this: Lazy, ...args: unknown[]): unknown {
        const real = realOf(this, parent) as unknown as Record<string, (...a: unknown[]) => unknown>;
        return real[name]!(...args);
      },
    });
  }
  Object.defineProperty(proto, 'level', {
    configurable: true,
    get(this: Lazy): string {
      return this[STATE].real?.level ?? this[STATE].options?.level ?? parent.level;
    },
    set(this: Lazy, level: string) {
      realOf(this, parent).level = level;
    },
  });
  prototypes.set(parent, proto);
  return proto;
}

/**
 * A child logger that becomes a real pino child only when something logs through it. fastify makes a child per
 * request for `req.log`; with redaction configured pino serialises and redacts the bindings of every one, some
 * 15 µs a request on this hardware, while almost no request ever logs.
 */
export function lazyChildLogger(parent: Logger, bindings: Bindings, options?: ChildLoggerOptions): Logger {
  const lazy = Object.create(lazyPrototype(parent)) as Lazy;
  lazy[STATE] = { bindings, options, real: undefined };
  return lazy;
}

/**
 * A warning that may fire on every request under a fault (a dependency down, deadlines missed): logged at most once
 * per `intervalMs` with how many were skipped since, so an overloaded process does not spend its CPU serializing
 * the same error stack thousands of times a second and fall further behind.
 */
export function throttledWarn(
  logger: Logger,
  intervalMs = 1000,
): (fields: Record<string, unknown>, message: string) => void {
  let lastMs = Number.NEGATIVE_INFINITY;
  let skipped = 0;
  return (fields, message) => {
    const now = performance.now();
    if (now - lastMs < intervalMs) {
      skipped++;
      return;
    }
    lastMs = now;
    logger.warn(skipped > 0 ? { ...fields, skipped } : fields, message);
    skipped = 0;
  };
}
