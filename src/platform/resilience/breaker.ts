import { EtaError } from '../errors.js';
import { isReplicaFailure, lostHedge, type Call } from './call.js';

/** The values of `etaserve_breaker_state`. */
export const BREAKER_STATE = { closed: 0, 'half-open': 1, open: 2 } as const;
export type BreakerState = keyof typeof BREAKER_STATE;

export interface BreakerOptions {
  /** Opens after this many failures in a row... */
  consecutiveFailures: number;
  /** ...or when at least `minCalls` in the window failed at `failureRatio` or more. */
  failureRatio: number;
  minCalls: number;
  windowMs: number;
  /** How long it stays open before one probe call may try (half-open). */
  openMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = {
  consecutiveFailures: 5,
  failureRatio: 0.5,
  minCalls: 20,
  windowMs: 10_000,
  openMs: 2_000,
};

/**
 * A circuit breaker for one replica. Open, it refuses calls at once (`upstream_unavailable`), so a dead replica
 * costs nothing but the retry on another; after `openMs` one probe goes through, and its outcome closes or reopens it.
 * Our own rather than opossum's: it needs nothing but counts, and the balancer must see its state to pick around it.
 */
export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private openedAt = 0;
  private consecutive = 0;
  private probing = false;
  private window = { start: 0, calls: 0, failures: 0 };

  constructor(
    readonly name: string,
    private readonly options: BreakerOptions = DEFAULT_BREAKER,
    private readonly onChange: (state: BreakerState) => void = () => undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The state now; an open breaker whose time is up reads as half-open. */
  get current(): BreakerState {
    if (this.state === 'open' && this.now() - this.openedAt >= this.options.openMs) this.set('half-open');
    return this.state;
  }

  /** Whether a call may go through now (and, half-open, takes the one probe slot). */
  admit(): boolean {
    const state = this.current;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  /**
   * The probe was cancelled before it could tell anything (a hedge on another replica won): the breaker stays
   * half-open and the next call may probe. Neither the failure streak nor the window changes.
   */
  probeAbandoned(): void {
    if (this.state === 'half-open') this.probing = false;
  }

  success(): void {
    this.consecutive = 0;
    this.count(false);
    if (this.state !== 'closed') {
      this.probing = false;
      this.set('closed');
    }
  }

  failure(): void {
    this.consecutive++;
    this.count(true);
    const w = this.window;
    const tripped =
      this.state === 'half-open' ||
      this.consecutive >= this.options.consecutiveFailures ||
      (w.calls >= this.options.minCalls && w.failures / w.calls >= this.options.failureRatio);
    if (tripped && this.state !== 'open') {
      this.probing = false;
      this.openedAt = this.now();
      this.window = { start: this.now(), calls: 0, failures: 0 };
      this.set('open');
    }
  }

  private count(failed: boolean): void {
    const now = this.now();
    if (now - this.window.start >= this.options.windowMs) this.window = { start: now, calls: 0, failures: 0 };
    this.window.calls++;
    if (failed) this.window.failures++;
  }

  private set(state: BreakerState): void {
    if (state === this.state) return;
    this.state = state;
    this.onChange(state);
  }
}

/**
 * Wraps a call to one replica in its breaker. Only replica failures count; a 4xx answer is a healthy replica. An
 * attempt cut short by the deadline is a failure (a hung replica must not pass its probe); one cancelled because a
 * hedge won counts neither way.
 */
export function breaker(b: CircuitBreaker) {
  return <T>(call: Call<T>): Call<T> =>
    async (ctx) => {
      if (!b.admit()) throw new EtaError('upstream_unavailable', `${b.name}: circuit breaker open`);
      // Admitted while not closed: this call holds the one probe slot.
      const probe = b.current !== 'closed';
      try {
        const value = await call(ctx);
        b.success();
        return value;
      } catch (e) {
        if (lostHedge(ctx)) {
          if (probe) b.probeAbandoned();
        } else if (isReplicaFailure(e) || ctx.signal.aborted) b.failure();
        else b.success();
        throw e;
      }
    };
}
