import { NEVER_CANCELLED, type CancelSignal } from '../cancellation.js';
import { EtaError } from '../errors.js';

/** What one attempt gets: a signal that aborts it when the request's deadline passes or a hedge won. */
export interface CallContext {
  signal: CancelSignal;
  /** Milliseconds left before the request's deadline (Infinity without one). */
  remainingMs(): number;
  /** Replicas this request already tried, so a retry or a hedge goes elsewhere. */
  tried: Set<string>;
}

/** The shape every resilience wrapper takes and returns, so they compose: `deadline(retry(breaker(call)))`. */
export type Call<T> = (ctx: CallContext) => Promise<T>;

export type Wrapper = <T>(call: Call<T>) => Call<T>;

/** Applies wrappers right to left, like function composition: `compose(a, b)(call)` is `a(b(call))`. */
export function compose(...wrappers: Wrapper[]): Wrapper {
  return <T>(call: Call<T>): Call<T> => wrappers.reduceRight((inner, wrap) => wrap(inner), call);
}

const unbounded = (): number => Infinity;

/** The context a request starts with: nothing tried, no deadline until `deadline` sets one, nothing to abort. */
export function rootContext(): CallContext {
  return { signal: NEVER_CANCELLED, remainingMs: unbounded, tried: new Set() };
}

/**
 * The abort reason a hedge gives the attempts that lost the race: they were cancelled because another replica
 * answered, which says nothing about their own replica (not a failure, not a success).
 */
export class HedgeLost extends Error {
  constructor() {
    super('hedge lost');
    this.name = 'HedgeLost';
  }
}

/** Whether this attempt was cancelled because a hedge won, rather than failed or timed out. */
export const lostHedge = (ctx: CallContext): boolean =>
  ctx.signal.aborted && ctx.signal.reason instanceof HedgeLost;

/**
 * Failures another replica may not share: unreachable, too slow, not loaded, overloaded. A 4xx (a bad request, an
 * unknown store) would fail the same everywhere and is never retried.
 */
export function isReplicaFailure(e: unknown): boolean {
  if (!(e instanceof EtaError)) return true;
  return e.status >= 500;
}
