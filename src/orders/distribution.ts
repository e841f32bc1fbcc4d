/**
 * A duration's distribution from three quantiles (p10, p50, p90): piecewise linear between them, normal tails
 * beyond, with the spread the quantiles imply. Enough to condition the checkout quote on the time already spent.
 */
export class QuantileDistribution {
  private readonly lowSigma: number;
  private readonly highSigma: number;

  constructor(
    readonly p10: number,
    readonly p50: number,
    readonly p90: number,
  ) {
    // z(0.9) = 1.2816: each tail's sigma from its own half of the range, never zero.
    this.lowSigma = Math.max((p50 - p10) / Z90, 1);
    this.highSigma = Math.max((p90 - p50) / Z90, 1);
  }

  /** P(T ≤ x). */
  cdf(x: number): number {
    if (x <= this.p10) return normalCdf((x - this.p50) / this.lowSigma) * (0.1 / normalCdf(-Z90));
    if (x <= this.p50) return 0.1 + (0.4 * (x - this.p10)) / Math.max(this.p50 - this.p10, 1e-9);
    if (x <= this.p90) return 0.5 + (0.4 * (x - this.p50)) / Math.max(this.p90 - this.p50, 1e-9);
    return 1 - (1 - normalCdf((x - this.p50) / this.highSigma)) * (0.1 / (1 - normalCdf(Z90)));
  }

  /** The q-quantile (inverse of `cdf`, by bisection: called a few times per update, not per sample). */
  quantile(q: number): number {
    let lo = Math.min(0, this.p10 - 10 * this.lowSigma);
    let hi = this.p90 + 10 * this.highSigma;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (this.cdf(mid) < q) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  }

  /**
   * The remaining time given that `elapsed` has passed without the end: quantiles of T − elapsed given T > elapsed,
   * and P(T > deadline | T > elapsed).
   */
  given(elapsed: number, deadline: number): { p10: number; p50: number; p90: number; pOver: number } {
    const survived = 1 - this.cdf(elapsed);
    if (survived < 1e-6) return { p10: 0, p50: 0, p90: 0, pOver: deadline > elapsed ? 0 : 1 };
    const at = (q: number): number => Math.max(0, this.quantile(1 - survived * (1 - q)) - elapsed);
    const pOver = deadline <= elapsed ? 1 : (1 - this.cdf(deadline)) / survived;
    return { p10: at(0.1), p50: at(0.5), p90: at(0.9), pOver: Math.min(1, Math.max(0, pOver)) };
  }
}

const Z90 = 1.2815515655446004;

/** Standard normal CDF (Abramowitz and Stegun 7.1.26 on erf; error under 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
