import { EtaError } from '../../platform/index.js';

/** What one attempt gets: a signal that aborts it when the request's deadline passes or a hedge won. */
export interface CallContext {
  signal: AbortSignal;
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

/** The context a request starts with: nothing tried, no deadline until `deadline` sets one. */
export function rootContext(): CallContext {
  return { signal: new AbortController().signal, remainingMs: () => Infinity, tried: new Set() };
}

/**
 * Failures another replica may not share: unreachable, too slow, not loaded, overloaded. A 4xx (a bad request, an
 * unknown store) would fail the same everywhere and is never retried.
 */
export function isReplicaFailure(e: unknown): boolean {
  if (!(e instanceof EtaError)) return true;
  return e.status >= 500;
}
