import { randomFillSync } from 'node:crypto';

/** The request being served, so outgoing calls carry its trace without threading it through every signature. */
export interface RequestContext {
  requestId: string;
  traceId: string;
  spanId: string;
}

/**
 * The context of the request whose code is running now. Not an AsyncLocalStorage: on Node 20 that turns on promise
 * hooks for every promise in the process, which cost some 7% of the local cluster's CPU. The HTTP server makes a
 * request's context current while its handler's synchronous part runs, and the few places that call out after an
 * await (a cache's loader, the gateway's balancer, the predictor's geo call) capture it first and restore it with
 * `withContext`. Calls made elsewhere after an await go out without a trace, never with another request's.
 */
let current: RequestContext | undefined;

export function currentContext(): RequestContext | undefined {
  return current;
}

/** Runs `fn` with `ctx` current, and restores the previous context when `fn` returns or throws. */
export function withContext<T>(ctx: RequestContext | undefined, fn: () => T): T {
  const previous = current;
  current = ctx;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

// Ids are drawn from a pool refilled 8 KiB at a time: one CSPRNG call per few hundred requests, not two each.
const pool = Buffer.alloc(8192);
let poolAt = pool.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  return hex;
}

export function newTraceId(): string {
  return randomHex(16);
}

export function newSpanId(): string {
  return randomHex(8);
}

/** Continue an incoming W3C `traceparent`, or start a new trace. */
export function contextFromHeaders(
  traceparent: string | undefined,
  requestId: string | undefined,
): RequestContext {
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  const traceId = match?.[1] ?? newTraceId();
  return {
    traceId,
    spanId: newSpanId(),
    requestId: requestId && requestId.length <= 128 ? requestId : traceId,
  };
}

/** The `traceparent` for a call made on behalf of the current request, if any. */
export function outgoingTraceparent(ctx: RequestContext | undefined = current): string | undefined {
  return ctx ? `00-${ctx.traceId}-${ctx.spanId}-01` : undefined;
}
