import { EtaError } from '../platform/index.js';

export interface AdmissionOptions {
  maxInFlight: number;
  /** List pages are shed from here on, before checkout ETAs. */
  batchMaxInFlight: number;
}

/** Health probes and metrics must answer under overload, or an orchestrator would restart a busy process. */
const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Admission control: a bound on the requests in flight in this process. Past it a request is refused at once
 * (503 `overloaded` with Retry-After) before its body is read, instead of waiting in an unbounded queue. List-page
 * batches are shed first, at a lower bound, so checkout ETAs keep going longest. The server asks `check` after
 * authentication and before reading the body, and counts a request (`admit`) once its body is in: a client that
 * stalls mid-body holds a socket until the request timeout, never a slot.
 */
export class Admission {
  private inFlight = 0;
  private shed = 0;

  constructor(private readonly options: AdmissionOptions) {}

  get current(): number {
    return this.inFlight;
  }

  get refused(): number {
    return this.shed;
  }

  /** Whether a request would be refused now, without counting it: the error to send, or undefined. */
  check(url: string): EtaError | undefined {
    return this.refusal(this.limitFor(url));
  }

  /**
   * Counts a request in: the error to send when refused; true when counted (then `release` must follow); false for
   * probes, which are never counted (and must not be released).
   */
  admit(url: string): EtaError | boolean {
    const limit = this.limitFor(url);
    if (limit === undefined) return false;
    const refusal = this.refusal(limit);
    if (refusal) return refusal;
    this.inFlight++;
    return true;
  }

  release(): void {
    this.inFlight--;
  }

  private refusal(limit: number | undefined): EtaError | undefined {
    if (limit === undefined || this.inFlight < limit) return undefined;
    this.shed++;
    return new EtaError('overloaded', 'the gateway is at capacity; retry shortly', { retryAfter: 1 });
  }

  /** The bound for this URL; undefined for probes, which are never counted. */
  private limitFor(url: string): number | undefined {
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    // A live ETA stream holds its connection for the order's life: the orders routes bound streams themselves.
    if (EXEMPT.has(path) || path.endsWith('/eta/stream')) return undefined;
    return path === '/v1/eta/batch'
      ? Math.min(this.options.batchMaxInFlight, this.options.maxInFlight)
      : this.options.maxInFlight;
  }
}
