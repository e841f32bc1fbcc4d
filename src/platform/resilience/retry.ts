import type { Call } from './call.js';
import type { RetryBudget } from './retry-budget.js';

export interface RetryOptions {
  budget: RetryBudget;
  /** First attempt included. */
  maxAttempts: number;
  retryable: (e: unknown) => boolean;
  onRetry?: () => void;
}

/**
 * Tries again after a retryable failure, while the budget and the deadline allow. The inner call picks its
 * replica, and `ctx.tried` steers it to another one.
 */
export function retry(options: RetryOptions) {
  return <T>(call: Call<T>): Call<T> =>
    async (ctx) => {
      options.budget.request();
      for (let attempt = 1; ; attempt++) {
        try {
          return await call(ctx);
        } catch (e) {
          const again =
            attempt < options.maxAttempts &&
            !ctx.signal.aborted &&
            options.retryable(e) &&
            options.budget.tryRetry();
          if (!again) throw e;
          options.onRetry?.();
        }
      }
    };
}
