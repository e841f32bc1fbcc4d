/** What a call needs of an abort signal. A DOM `AbortSignal` is one, and so is a `Cancellation`. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * An abort controller and its signal in one small object, for the request path. Node 20 builds every
 * `AbortSignal` by re-prototyping an EventTarget, which costs microseconds per signal and makes each listener
 * added to it slow again; a proxied request needs a few signals, thousands of times a second. Listeners run once,
 * in the order they were added, when `abort` is first called.
 */
export class Cancellation implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;

  /** The signal to hand to calls: this object, as `AbortController.signal` would be. */
  get signal(): CancelSignal {
    return this;
  }

  abort(reason: unknown = new Error('aborted')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const listener of listeners) listener();
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (!listeners) return;
    const i = listeners.lastIndexOf(listener);
    if (i >= 0) listeners.splice(i, 1);
  }
}

/** A signal that never aborts: listeners are not even kept. */
export const NEVER_CANCELLED: CancelSignal = {
  aborted: false,
  reason: undefined,
  addEventListener: () => undefined,
  removeEventListener: () => undefined,
};
