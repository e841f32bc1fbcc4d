import { EtaError } from './errors.js';
import { afterWaitingIo } from './resilience/deadline.js';

/** The work's result, or undefined once `ms` have passed (the work goes on, but nobody waits for it). */
export async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>(
    (resolve) => (timer = setTimeout(() => afterWaitingIo(resolve, undefined), ms)),
  );
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The work's result within `ms`, or `deadline_exceeded` naming `what` (a result of `undefined` cannot be told from
 * lateness: use `within` for work that may resolve to it).
 */
export async function requireWithin<T>(work: Promise<T>, ms: number, what: string): Promise<NonNullable<T>> {
  const result = await within(work, ms);
  if (result === undefined || result === null)
    throw new EtaError('deadline_exceeded', `${what} took longer than ${ms} ms`);
  return result as NonNullable<T>;
}
