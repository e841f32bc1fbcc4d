import { describe, expect, it } from 'vitest';
import {
  AdaptiveConformal,
  calibrateSegments,
  OnlineSegmentedRanges,
  SegmentedRanges,
  type Calibration,
  type SegmentQuote,
} from '../index.js';
import { Rng } from '../rng.js';

/**
 * A model that serves [m − 1, m + 1] around a median m; zone a's outcomes are m + N(0, 0.78) (covered 80% as
 * served), zone b's as a's until it breaks and then m + 1.5 + N(0, 1.5).
 */
function outcome(rng: Rng, broken: boolean): number {
  const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  return broken ? 1.5 + 1.5 * z : 0.78 * z;
}

function staticRanges(): SegmentedRanges {
  const rng = new Rng(5);
  const n = 2000;
  const zone = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'a' : 'b'));
  const y = Array.from({ length: n }, () => outcome(rng, false));
  const ranges = {
    lo: new Array<number>(n).fill(-1),
    median: new Array<number>(n).fill(0),
    hi: new Array<number>(n).fill(1),
  };
  const segments = calibrateSegments(ranges, y, [zone], { columns: ['zone'], nominal: 0.8 });
  const calibration: Calibration = {
    method: 'cqr',
    score: 'scaled',
    center: 'p50',
    lower: 'p10',
    upper: 'p90',
    nominal: 0.8,
    adjustment: 1,
    rows: n,
    validCoverageBefore: 0.8,
    validCoverageAfter: 0.8,
    segments,
  };
  return new SegmentedRanges(calibration, ['p10', 'p50', 'p90']);
}

const PREDICTION = [-1, 0, 1];

/** Quotes in turn for zones a and b; outcomes come back `lag` quotes later. Coverage per zone, per 100 quotes. */
function stream(online: OnlineSegmentedRanges, n: number, breakAt: number, lag: number, seed = 7) {
  const rng = new Rng(seed);
  const pending: Array<{ quote: SegmentQuote; y: number }> = [];
  const hits: Record<string, number[]> = { a: [], b: [] };
  for (let i = 0; i < n; i++) {
    const zone = i % 2 === 0 ? 'a' : 'b';
    const quote = online.quote(PREDICTION, { zone });
    const y = outcome(rng, zone === 'b' && i >= breakAt);
    hits[zone]!.push(y >= quote.lower && y <= quote.upper ? 1 : 0);
    pending.push({ quote, y });
    if (pending.length > lag) {
      const done = pending.shift()!;
      online.observe(done.quote, done.y);
    }
  }
  const share = (h: number[], from: number, to: number): number =>
    h.slice(from, to).reduce((s, x) => s + x, 0) / (to - from);
  return { hits, share };
}

describe('per-segment online adaptation', () => {
  it('starts from the static ranges, then heals a break in one segment without touching the other', () => {
    const ranges = staticRanges();
    const online = new OnlineSegmentedRanges(ranges);
    const first = online.quote(PREDICTION, { zone: 'b' });
    expect(first.factor).toBeCloseTo(ranges.factorFor({ zone: 'b' }), 1);
    expect(first.cellFactor).toBe(ranges.factorFor({ zone: 'b' }));
    // 8,000 quotes, zone b breaks at quote 2,000 (its 1,000th), outcomes 40 quotes late (20 per zone).
    const { hits, share } = stream(online, 8000, 2000, 40);
    const b = hits.b!;
    // The break shows on the 20 quotes given before its first outcome came back (about 0.35 expected).
    expect(share(b, 1000, 1020)).toBeLessThan(0.6);
    expect(share(b, 1500, 4000)).toBeGreaterThan(0.77); // and heals within 500 of b's outcomes
    expect(share(b, 1500, 4000)).toBeLessThan(0.83);
    const a = hits.a!;
    expect(share(a, 1000, 4000)).toBeGreaterThan(0.77);
    expect(share(a, 1000, 4000)).toBeLessThan(0.83);
    const [sa, sb] = ['a', 'b'].map((z) => online.summary().find((s) => s.cell[0] === z)!);
    expect(sb!.multiplier).toBeGreaterThan(2 * sa!.multiplier);
  });

  it("judges a late outcome against the range its quote gave, not today's", () => {
    const online = new OnlineSegmentedRanges(staticRanges(), { delayGain: Infinity });
    const old = online.quote(PREDICTION, { zone: 'a' });
    // Misses until b's range is twice as wide...
    const rng = new Rng(3);
    while (online.quote(PREDICTION, { zone: 'a' }).factor < 2 * old.factor) {
      const q = online.quote(PREDICTION, { zone: 'a' });
      online.observe(q, q.upper + 1 + rng.next());
    }
    // ...then y is outside the old range and inside today's: the old quote counts it a miss (α falls).
    const y = old.upper + 0.5 * (online.quote(PREDICTION, { zone: 'a' }).upper - old.upper);
    const before = online.summary().find((s) => s.cell[0] === 'a')!;
    online.observe(old, y);
    const after = online.summary().find((s) => s.cell[0] === 'a')!;
    expect(after.alpha).toBeLessThan(before.alpha);
    expect(after.observed).toBe(before.observed + 1);
    // The same y on a quote given now is a hit (α rises).
    const now = online.quote(PREDICTION, { zone: 'a' });
    online.observe(now, y);
    expect(online.summary().find((s) => s.cell[0] === 'a')!.alpha).toBeGreaterThan(after.alpha);
  });

  it("steps by its segment's peak delay, so a busy segment cannot ring and a busy hour weighs as any other", () => {
    const online = new OnlineSegmentedRanges(staticRanges(), { gamma: 0.01, delayGain: 0.3 });
    const alpha = (): number => online.summary()[0]!.alpha;
    /** A miss (α falls by step × 0.8) that came back after `late` more ranges were given. */
    const step = (late: number): number => {
      const q = online.quote(PREDICTION, { zone: 'a' });
      for (let i = 0; i < late; i++) online.quote(PREDICTION, { zone: 'a' });
      const before = alpha();
      online.observe(q, q.upper + 10);
      return (before - alpha()) / 0.8;
    };
    expect(step(0)).toBeCloseTo(0.01, 12);
    expect(step(30)).toBeCloseTo(0.01, 12);
    expect(step(60)).toBeCloseTo(0.3 / 60, 12);
    // A prompt outcome after the peak still takes the peak's step (the peak decays over 10,000 outcomes).
    expect(step(0)).toBeCloseTo(0.3 / (60 * (1 - 1e-4)), 12);
    expect(step(300)).toBeCloseTo(0.001, 12);
  });

  it('survives a restart: toJSON and fromJSON give the same ranges now and after more outcomes', () => {
    const ranges = staticRanges();
    const online = new OnlineSegmentedRanges(ranges);
    stream(online, 3000, 1000, 30);
    const restored = OnlineSegmentedRanges.fromJSON(JSON.parse(JSON.stringify(online.toJSON())), ranges);
    expect(restored.summary()).toEqual(online.summary());
    const rng = new Rng(11);
    for (let i = 0; i < 500; i++) {
      const zone = ['a', 'b', 'c'][i % 3]!;
      const q1 = online.quote(PREDICTION, { zone });
      const q2 = restored.quote(PREDICTION, { zone });
      expect(q2).toEqual(q1);
      const y = outcome(rng, true);
      online.observe(q1, y);
      restored.observe(q2, y);
    }
    expect(restored.toJSON()).toEqual(online.toJSON());
    const other = staticRanges();
    const state = online.toJSON();
    expect(() => OnlineSegmentedRanges.fromJSON({ ...state, columns: ['city'] }, other)).toThrow(
      /do not match/,
    );
  });

  it('keeps every served range ordered, whatever the outcomes', () => {
    const online = new OnlineSegmentedRanges(staticRanges(), { gamma: 0.5, window: 5, delayGain: Infinity });
    const rng = new Rng(13);
    const predictions = [
      [-1, 0, 1],
      [0, 0, 0],
      [2, 0, -2], // crossed input: treated as closed sides
      [-1e300, 0, 1e300],
    ];
    for (let i = 0; i < 3000; i++) {
      const p = predictions[i % predictions.length]!;
      const q = online.quote(p, { zone: i % 2 ? 'a' : 'b' });
      expect(q.lower <= q.median && q.median <= q.upper, JSON.stringify(q)).toBe(true);
      const u = rng.next();
      online.observe(q, u < 0.3 ? q.median : u < 0.6 ? q.median + (rng.next() - 0.5) * 1e9 : q.upper + 1e-12);
    }
  });
});

describe('adaptive conformal state', () => {
  it('round-trips through JSON mid-stream and updates from scores as from bounds', () => {
    const a = new AdaptiveConformal([0.5, 1, 2, 3, 0.1], { nominal: 0.8, window: 4, gamma: 0.05 });
    const b = new AdaptiveConformal([0.5, 1, 2, 3, 0.1], { nominal: 0.8, window: 4, gamma: 0.05 });
    const rng = new Rng(2);
    for (let i = 0; i < 7; i++) {
      const y = rng.next() * 6 - 3;
      a.observe(-1, 1, y, a.adjustment);
      b.observeScore(Math.max(-1 - y, y - 1), b.adjustment);
    }
    expect(b.toJSON()).toEqual(a.toJSON());
    const c = AdaptiveConformal.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    for (let i = 0; i < 9; i++) {
      const s = rng.next() * 3;
      a.observeScore(s);
      c.observeScore(s);
      expect(c.adjustment).toBe(a.adjustment);
    }
    expect(c.toJSON()).toEqual(a.toJSON());
    expect(() => AdaptiveConformal.fromJSON({ ...a.toJSON(), alpha: 7 })).toThrow(/alpha/);
    expect(() => AdaptiveConformal.fromJSON({ ...a.toJSON(), missed: 1e9 })).toThrow(/misses/);
  });
});
