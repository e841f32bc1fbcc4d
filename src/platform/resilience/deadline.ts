import { Cancellation } from '../cancellation.js';
import { EtaError } from '../errors.js';
import type { Call, CallContext } from './call.js';

/**
 * Runs `fn(arg)` once the answers already waiting for this process have been read: a deadline timer calls it, so
 * that after the event loop was held up (a collection, a long task) a call whose answer came in meanwhile is
 * answered rather than counted as late. Timers run before I/O in each turn of the loop; immediates run after it.
 */
export function afterWaitingIo<A>(fn: (arg: A) => void, arg: A): void {
  setImmediate(fn, arg);
}

/**
 * One deadline for the whole request, every retry and hedge included: past it the call rejects with
 * `deadline_exceeded` and every attempt still running is aborted.
 */
export function deadline(ms: number) {
  return <T>(call: Call<T>): Call<T> =>
    async (outer: CallContext): Promise<T> => {
      const until = performance.now() + Math.min(ms, outer.remainingMs());
      const controller = new Cancellation();
      const onOuterAbort = (): void => controller.abort(outer.signal.reason);
      outer.signal.addEventListener('abort', onOuterAbort, { once: true });
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      const expired = new Promise<never>((_, reject) => {
        const expire = (): void => {
          if (finished) return;
          const error = new EtaError('deadline_exceeded', `no predictor answered within ${ms} ms`);
          controller.abort(error);
          reject(error);
        };
        timer = setTimeout(() => afterWaitingIo(expire, undefined), until - performance.now());
      });
      const ctx: CallContext = {
        ...outer,
        signal: controller.signal,
        remainingMs: () => Math.max(0, until - performance.now()),
      };
      try {
        return await Promise.race([call(ctx), expired]);
      } finally {
        finished = true;
        clearTimeout(timer);
        outer.signal.removeEventListener('abort', onOuterAbort);
      }
    };
}
