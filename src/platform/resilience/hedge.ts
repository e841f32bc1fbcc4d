import { Cancellation } from '../cancellation.js';
import { HedgeLost, type Call, type CallContext } from './call.js';
import type { RetryBudget } from './retry-budget.js';

export interface HedgeOptions {
  /** Start a second attempt when the first has not answered after this long; 0 = never hedge. */
  delayMs: number;
  budget: RetryBudget;
  onHedge?: () => void;
}

/**
 * Request hedging for the tail: a slow first attempt gets a twin on another replica, and the first answer wins
 * (the loser is aborted). Hedges spend the retry budget, so they cannot double the load.
 */
export function hedge(options: HedgeOptions) {
  return <T>(call: Call<T>): Call<T> => {
    if (options.delayMs <= 0) return call;
    return (ctx) =>
      new Promise<T>((resolve, reject) => {
        const controllers: Cancellation[] = [];
        let running = 0;
        let done = false;
        const launch = (): void => {
          const controller = new Cancellation();
          controllers.push(controller);
          const abort = (): void => controller.abort(ctx.signal.reason);
          ctx.signal.addEventListener('abort', abort, { once: true });
          const attemptCtx: CallContext = { ...ctx, signal: controller.signal };
          running++;
          call(attemptCtx).then(
            (value) => {
              ctx.signal.removeEventListener('abort', abort);
              if (done) return;
              done = true;
              clearTimeout(timer);
              for (const c of controllers) if (c !== controller) c.abort(new HedgeLost());
              resolve(value);
            },
            (e: unknown) => {
              ctx.signal.removeEventListener('abort', abort);
              running--;
              // A hedge still running may yet answer; only the last failure is the call's failure.
              if (done || running > 0) return;
              done = true;
              clearTimeout(timer);
              reject(e);
            },
          );
        };
        launch();
        const timer = setTimeout(() => {
          if (done || ctx.signal.aborted || !options.budget.tryRetry()) return;
          options.onHedge?.();
          launch();
        }, options.delayMs);
      });
  };
}
