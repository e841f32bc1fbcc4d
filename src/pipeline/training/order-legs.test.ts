import { beforeAll, describe, expect, it } from 'vitest';
import { haversineKm } from '../../features/index.js';
import { LegsArtifactError, OrderLegs, type OrderSnapshot } from '../../orders/index.js';
import { simulatedData } from '../etl/sources.js';
import type { OrderHistory } from '../history.js';
import { orderSnapshots, trainOrderLegs, type LifeSnapshot, type TrainedOrderLegs } from './order-legs.js';

// A small simulated city: 3 weeks, so that calibration and test windows are most of a week each; trains in seconds.
let history: OrderHistory;
let trained: TrainedOrderLegs;
let test: LifeSnapshot[];

beforeAll(async () => {
  history = simulatedData({
    seed: 7,
    days: 21,
    stores: 25,
    ordersPerDay: 300,
    nowMs: Date.UTC(2026, 10, 23),
  }).history;
  trained = await trainOrderLegs(history, {
    split: { train: 0.5, calibration: 0.25 },
    params: { nTrees: 120 },
  });
  test = orderSnapshots(history, trained.table, { fromMs: trained.calibrationEndMs, seed: 5 });
});

/** A promise for a snapshot: 30 minutes after creation. */
const withPromise = (s: OrderSnapshot, minutes = 30): OrderSnapshot => ({
  ...s,
  quote: {
    p10Seconds: 1200,
    p50Seconds: 1500,
    p90Seconds: 2100,
    promisedAtMs: s.createdAtMs + minutes * 60_000,
  },
});

describe('order legs', () => {
  it('orders p10 <= p50 <= p90, every leg too, and gives probabilities in [0, 1]', () => {
    expect(test.length).toBeGreaterThan(2000);
    for (const s of test) {
      const r = trained.legs.remaining(withPromise(s.snapshot), s.nowMs);
      expect(r.p10).toBeGreaterThanOrEqual(0);
      expect(r.p10).toBeLessThanOrEqual(r.p50);
      expect(r.p50).toBeLessThanOrEqual(r.p90);
      for (const leg of Object.values(r.legs)) {
        expect(leg.p10).toBeLessThanOrEqual(leg.p50);
        expect(leg.p50).toBeLessThanOrEqual(leg.p90);
      }
      const p = r.pLate();
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
    }
  });

  it('gives each stage the legs still ahead', () => {
    const keys = (stage: string): string[] => {
      const s = test.find((x) => x.snapshot.stage === stage)!;
      return Object.keys(trained.legs.remaining(s.snapshot, s.nowMs).legs).sort();
    };
    expect(keys('created')).toEqual(['door', 'pickup', 'ready']);
    expect(keys('accepted')).toEqual(['door', 'pickup', 'ready']);
    expect(keys('ready')).toEqual(['door', 'pickup']);
    expect(keys('picked_up')).toEqual(['door']);
  });

  it('shrinks the remaining time as an order moves through its stages', () => {
    // each order's snapshot at the start of each stage
    const starts = new Map<number, Map<string, number>>();
    for (const s of test) {
      const t =
        s.snapshot.stage === 'created' ? s.snapshot.createdAtMs : s.snapshot.stageAtMs[s.snapshot.stage];
      if (t !== s.nowMs) continue;
      const p50 = trained.legs.remaining(s.snapshot, s.nowMs).p50;
      if (!starts.has(s.order)) starts.set(s.order, new Map());
      starts.get(s.order)!.set(s.snapshot.stage, p50);
    }
    const stages = ['created', 'accepted', 'ready', 'picked_up'];
    const mean = stages.map((stage) => {
      const v = [...starts.values()].map((m) => m.get(stage)!);
      return v.reduce((a, b) => a + b, 0) / v.length;
    });
    for (let k = 1; k < stages.length; k++) expect(mean[k]).toBeLessThan(mean[k - 1]!);
    // order by order: at pickup, less is left than at creation, for nearly every order
    const orders = [...starts.values()];
    const shrank = orders.filter((m) => m.get('picked_up')! < m.get('created')!).length;
    expect(shrank / orders.length).toBeGreaterThan(0.97);
    // and delivered leaves nothing
    const s = test[0]!;
    const done = trained.legs.remaining(
      { ...withPromise(s.snapshot), stage: 'delivered', stageAtMs: { delivered: s.nowMs } },
      s.nowMs,
    );
    expect([done.p10, done.p50, done.p90]).toEqual([0, 0, 0]);
  });

  it('raises P(late) while the rider stalls, and keeps it lower for a rider who moves on', () => {
    const riding = test.filter(
      (s) =>
        s.snapshot.stage === 'picked_up' &&
        s.snapshot.rider &&
        s.nowMs === s.snapshot.stageAtMs.picked_up &&
        haversineKm(s.snapshot.store.location, s.snapshot.destination) > 1.5,
    );
    expect(riding.length).toBeGreaterThan(100);
    let rose = 0;
    let monotone = 0;
    let movingLower = 0;
    for (const s of riding.slice(0, 200)) {
      const from = s.snapshot.store.location;
      const to = s.snapshot.destination;
      const at = (f: number): { lat: number; lng: number } => ({
        lat: from.lat + (to.lat - from.lat) * f,
        lng: from.lng + (to.lng - from.lng) * f,
      });
      const t0 = s.nowMs + 3 * 60_000;
      // the promise sits at the median of what is left at the first ping: P(late) starts near one half
      const first = trained.legs.remaining({ ...s.snapshot, rider: { ...at(0.2), atMs: t0 } }, t0);
      const snap = withPromise(s.snapshot, (t0 + first.p50 * 1000 - s.snapshot.createdAtMs) / 60_000);
      // the rider pings from the same spot a fifth of the way, 3, 6 and 9 minutes after pickup
      const stalled = [0, 3, 6].map((m) =>
        trained.legs
          .remaining({ ...snap, rider: { ...at(0.2), atMs: t0 + m * 60_000 } }, t0 + m * 60_000)
          .pLate(),
      );
      if (stalled[1]! >= stalled[0]! && stalled[2]! >= stalled[1]!) monotone++;
      if (stalled[2]! > stalled[0]! + 0.2) rose++;
      // the same 6 minutes, but the rider got four fifths of the way
      const moving = trained.legs
        .remaining({ ...snap, rider: { ...at(0.8), atMs: t0 + 6 * 60_000 } }, t0 + 6 * 60_000)
        .pLate();
      if (moving < stalled[2]!) movingLower++;
    }
    const n = Math.min(200, riding.length);
    // six minutes stalled from P(late) near one half: up by more than 0.2 for nearly every order (measured 0.99);
    // the trees are not constrained to be monotone in time, so a 3-minute step may dip for a few (measured 5.5%)
    expect(rose / n).toBeGreaterThan(0.95);
    expect(monotone / n).toBeGreaterThan(0.9);
    expect(movingLower / n).toBeGreaterThan(0.95);
  });

  it('covers about 80% of remaining times with p10-p90 on the test week', () => {
    let inside = 0;
    for (const s of test) {
      const r = trained.legs.remaining(s.snapshot, s.nowMs);
      if (s.remaining >= r.p10 && s.remaining <= r.p90) inside++;
    }
    const coverage = inside / test.length;
    expect(coverage).toBeGreaterThan(0.72);
    expect(coverage).toBeLessThan(0.88);
  });

  it('predicts identically after a JSON round trip', () => {
    const copy = OrderLegs.fromJSON(JSON.stringify(trained.legs.toJSON()));
    for (const s of test.slice(0, 500)) {
      const snap = withPromise(s.snapshot);
      const a = trained.legs.remaining(snap, s.nowMs);
      const b = copy.remaining(snap, s.nowMs);
      expect([b.p10, b.p50, b.p90, b.pLate(), b.pLate(s.nowMs + 600_000)]).toEqual([
        a.p10,
        a.p50,
        a.p90,
        a.pLate(),
        a.pLate(s.nowMs + 600_000),
      ]);
      expect(b.legs).toEqual(a.legs);
    }
  });

  it('refuses an artifact of another kind or other features', () => {
    const artifact = trained.legs.toJSON();
    expect(() => OrderLegs.fromArtifact({ ...artifact, kind: 'x' } as never)).toThrow(LegsArtifactError);
    expect(() => OrderLegs.fromArtifact({ ...artifact, features: artifact.features.slice(1) })).toThrow(
      /other leg features/,
    );
  });

  it('is point in time: a snapshot carries nothing from after its moment', () => {
    for (const s of test.slice(0, 2000)) {
      const { snapshot, nowMs } = s;
      for (const t of Object.values(snapshot.stageAtMs)) expect(t).toBeLessThanOrEqual(nowMs);
      if (snapshot.rider) expect(snapshot.rider.atMs).toBeLessThanOrEqual(nowMs);
    }
  });
});
