import { Cancellation } from '../cancellation.js';
import { EtaError } from '../errors.js';
import type { Call, CallContext } from './call.js';

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
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new EtaError('deadline_exceeded', `no predictor answered within ${ms} ms`);
          controller.abort(error);
          reject(error);
        }, until - performance.now());
      });
      const ctx: CallContext = {
        ...outer,
        signal: controller.signal,
        remainingMs: () => Math.max(0, until - performance.now()),
      };
      try {
        return await Promise.race([call(ctx), expired]);
      } finally {
        clearTimeout(timer);
        outer.signal.removeEventListener('abort', onOuterAbort);
      }
    };
}
