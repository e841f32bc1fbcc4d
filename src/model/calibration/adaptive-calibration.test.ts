import { describe, expect, it } from 'vitest';
import { AdaptiveConformal } from './adaptive-calibration.js';
import { conformalize, conformityScores } from './calibrate.js';
import { Rng } from '../rng.js';

/** The model's raw p10/p90 assume noise of sd 1 but are a little too narrow, as quantile boosters often are. */
const RAW_HALF_WIDTH = 1.1;

interface Rows {
  lo: Float64Array;
  hi: Float64Array;
  y: Float64Array;
}

function rows(n: number, sd: (i: number) => number, rng: Rng): Rows {
  const r = { lo: new Float64Array(n), hi: new Float64Array(n), y: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const mu = 20 + 20 * rng.next();
    const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    r.lo[i] = mu - RAW_HALF_WIDTH;
    r.hi[i] = mu + RAW_HALF_WIDTH;
    r.y[i] = mu + sd(i) * z;
  }
  return r;
}

interface Replay {
  aci: AdaptiveConformal;
  /** Share of outcomes inside their range, and mean width, from `from` on. */
  coverage: (from?: number) => { aci: number; static: number; aciWidth: number; staticWidth: number };
}

/** Static CQR and ACI side by side on one stream; outcomes come back `lag` orders after their range. */
function replay(valid: Rows, stream: Rows, lag = 0, gamma?: number): Replay {
  const scores = conformityScores(valid.y, valid.lo, valid.hi);
  const fixed = conformalize(valid.y, valid.lo, valid.hi, 0.8, { lower: 'p10', upper: 'p90' }).adjustment;
  const aci = new AdaptiveConformal(scores, gamma === undefined ? { nominal: 0.8 } : { nominal: 0.8, gamma });
  const n = stream.y.length;
  const issued = new Float64Array(n);
  const range = new Float64Array(2);
  const inAci = new Uint8Array(n);
  const widthAci = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const j = i - lag - 1;
    if (j >= 0) aci.observe(stream.lo[j]!, stream.hi[j]!, stream.y[j]!, issued[j]!);
    issued[i] = aci.adjustment;
    aci.interval(stream.lo[i]!, stream.hi[i]!, range);
    inAci[i] = stream.y[i]! >= range[0]! && stream.y[i]! <= range[1]! ? 1 : 0;
    widthAci[i] = range[1]! - range[0]!;
  }
  return {
    aci,
    coverage: (from = 0) => {
      let a = 0;
      let s = 0;
      let w = 0;
      for (let i = from; i < n; i++) {
        a += inAci[i]!;
        const y = stream.y[i]!;
        if (y >= stream.lo[i]! - fixed && y <= stream.hi[i]! + fixed) s++;
        w += widthAci[i]!;
      }
      const m = n - from;
      const staticWidth = 2 * (RAW_HALF_WIDTH + fixed);
      return { aci: a / m, static: s / m, aciWidth: w / m, staticWidth };
    },
  };
}

const SHIFT = 5000;
const N = 20_000;

describe('AdaptiveConformal', () => {
  it('keeps long-run coverage near 80% when the noise shrinks, where static CQR drifts to ~99%', () => {
    const rng = new Rng(1);
    const r = replay(
      rows(2000, () => 1, rng),
      rows(N, (i) => (i < SHIFT ? 1 : 0.5), rng),
    );
    const after = r.coverage(SHIFT);
    expect(after.static).toBeGreaterThan(0.97);
    expect(Math.abs(r.coverage().aci - 0.8)).toBeLessThan(0.015);
    expect(Math.abs(after.aci - 0.8)).toBeLessThan(0.02);
    // The user sees a range about half as wide once deliveries are more predictable.
    expect(after.aciWidth).toBeLessThan(0.65 * after.staticWidth);
  });

  it('keeps long-run coverage near 80% when the noise grows, where static CQR falls to ~50%', () => {
    const rng = new Rng(2);
    const r = replay(
      rows(2000, () => 1, rng),
      rows(N, (i) => (i < SHIFT ? 1 : 2), rng),
    );
    const after = r.coverage(SHIFT);
    expect(after.static).toBeLessThan(0.55);
    expect(Math.abs(r.coverage().aci - 0.8)).toBeLessThan(0.015);
    expect(Math.abs(after.aci - 0.8)).toBeLessThan(0.02);
    expect(after.aciWidth).toBeGreaterThan(1.6 * after.staticWidth);
  });

  it('stays near nominal, as wide as static CQR, on exchangeable data', () => {
    const rng = new Rng(3);
    const r = replay(
      rows(2000, () => 1, rng),
      rows(N, () => 1, rng),
    );
    const all = r.coverage();
    expect(Math.abs(all.static - 0.8)).toBeLessThan(0.02);
    expect(Math.abs(all.aci - 0.8)).toBeLessThan(0.015);
    expect(Math.abs(all.aciWidth / all.staticWidth - 1)).toBeLessThan(0.05);
    expect(r.aci.coverage).toBeCloseTo(all.aci, 2);
  });

  it('keeps its long-run coverage when outcomes come back 150 orders late', () => {
    const rng = new Rng(4);
    const r = replay(
      rows(2000, () => 1, rng),
      rows(N, (i) => (i < SHIFT ? 1 : 0.5), rng),
      150,
    );
    expect(Math.abs(r.coverage().aci - 0.8)).toBeLessThan(0.015);
    expect(Math.abs(r.coverage(SHIFT).aci - 0.8)).toBeLessThan(0.02);
  });

  it('keeps it with 1,000 outcomes outstanding when gamma is 0.5 / 1,000', () => {
    // At the default gamma the delayed loop overshoots and oscillates (gamma x outstanding = 5); the docs' rule.
    const rng = new Rng(7);
    const r = replay(
      rows(2000, () => 1, rng),
      rows(N, (i) => (i < SHIFT ? 1 : 2), rng),
      1000,
      0.5 / 1000,
    );
    expect(Math.abs(r.coverage().aci - 0.8)).toBeLessThan(0.015);
    expect(Math.abs(r.coverage(SHIFT).aci - 0.8)).toBeLessThan(0.02);
  });

  it('starts at the static CQR range when the window holds every validation score', () => {
    const v = rows(3000, () => 1, new Rng(5));
    const c = conformalize(v.y, v.lo, v.hi, 0.8, { lower: 'p10', upper: 'p90' });
    const aci = AdaptiveConformal.fromCalibration(c, conformityScores(v.y, v.lo, v.hi), { window: 5000 });
    expect(aci.nominal).toBe(0.8);
    expect(aci.adjustment).toBe(c.adjustment);
    const out: [number, number] = [0, 0];
    expect(aci.interval(10, 12, out)).toBe(out);
    expect(out).toEqual([10 - c.adjustment, 12 + c.adjustment]);
  });

  it('keeps a finite range through a run of outcomes beyond every score, then recovers', () => {
    const rng = new Rng(6);
    const v = rows(2000, () => 1, rng);
    const aci = new AdaptiveConformal(conformityScores(v.y, v.lo, v.hi), { nominal: 0.8 });
    for (let i = 0; i < 200; i++) aci.observe(0, 1, 1000 + i, aci.adjustment);
    expect(aci.alpha).toBeGreaterThanOrEqual(-aci.gamma);
    expect(aci.clamped).toBeGreaterThan(0);
    const [lo, hi] = aci.interval(0, 1);
    expect(Number.isFinite(lo) && Number.isFinite(hi)).toBe(true);
    // At α ≤ 0 the range is the widest score in the window, the latest outlier.
    expect(hi).toBe(1 + 1198);
    const s = rows(3000, () => 1, rng);
    for (let i = 0; i < s.y.length; i++) aci.observe(s.lo[i]!, s.hi[i]!, s.y[i]!, aci.adjustment);
    expect(Math.abs(aci.alpha - 0.2)).toBeLessThan(0.08);
    expect(aci.adjustment).toBeLessThan(2);
  });

  it('never hands out an inverted range', () => {
    // Scores of rows far inside their bounds make q negative; a narrow raw range collapses to its midpoint.
    const aci = new AdaptiveConformal([-5, -5, -5, -5], { nominal: 0.5 });
    expect(aci.interval(10, 12)).toEqual([11, 11]);
    expect(aci.interval(0, 20)).toEqual([5, 15]);
  });

  it('refuses bad arguments with a reason', () => {
    const scores = [0.1, 0.2, 0.3];
    expect(() => new AdaptiveConformal(scores, { nominal: 0.8, gamma: 0 })).toThrow(
      /gamma must be in \(0, 1\)/,
    );
    expect(() => new AdaptiveConformal(scores, { nominal: 0.8, gamma: -0.01 })).toThrow(/gamma/);
    expect(() => new AdaptiveConformal(scores, { nominal: 0.8, gamma: NaN })).toThrow(/gamma/);
    for (const nominal of [0, 1, 1.2, -0.5, NaN])
      expect(() => new AdaptiveConformal(scores, { nominal })).toThrow(
        /nominal coverage must be in \(0, 1\)/,
      );
    expect(() => new AdaptiveConformal(scores, { nominal: 0.8, window: 0 })).toThrow(/window/);
    expect(() => new AdaptiveConformal(scores, { nominal: 0.8, window: 2.5 })).toThrow(/window/);
    expect(() => new AdaptiveConformal([], { nominal: 0.8 })).toThrow(/at least one calibration score/);
    expect(() => new AdaptiveConformal([0, NaN], { nominal: 0.8 })).toThrow(/score 1 is not finite/);
    const aci = new AdaptiveConformal(scores, { nominal: 0.8 });
    expect(() => aci.observe(0, 1, NaN)).toThrow(/finite/);
    expect(aci.observed).toBe(0);
  });
});
