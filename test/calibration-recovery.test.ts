import { beforeAll, describe, expect, it } from 'vitest';
import {
  recovery,
  simulatedCity,
  trainSimulated,
  type RecoveryResult,
} from '../bench/calibration/simulated.js';

let broken: RecoveryResult;
let withheld: RecoveryResult;

beforeAll(async () => {
  // 16 days of a 40-store city from a Monday: train on the first half, calibrate per zone on the next 15%;
  // from day 11 (in the test split) prep times in the third-busiest zone take 50% longer. Seed as in
  // zone-drift.test.ts.
  const city = simulatedCity({
    seed: 11,
    days: 16,
    stores: 40,
    ordersPerDay: 3000,
    split: { train: 0.5, valid: 0.15 },
    shift: { zoneRank: 2, factor: 1.5, atDay: 11 },
  });
  const artifact = await trainSimulated(city, ['zone']);
  broken = recovery(city, artifact);
  // The same replay with the broken zone's outcomes after the break kept from every online state.
  withheld = recovery(city, artifact, { withholdBroken: true });
}, 60_000);

describe('ranges after a break in one zone (prep +50% from a given minute)', () => {
  it("per-zone online ranges cover 0.80 ± 0.03 over the zone's last 200 outcomes by its 500th after the break", () => {
    const report = JSON.stringify({
      zone: broken.zone,
      outcomes: broken.outcomes,
      at500: broken.at500,
      curve: broken.curve
        .filter((p) => p.outcome % 100 === 0)
        .map((p) => [p.outcome, p.coverage.segmentOnline]),
    });
    expect(broken.outcomes, report).toBeGreaterThanOrEqual(500);
    const online = broken.at500!.segmentOnline;
    expect(online, report).toBeGreaterThanOrEqual(0.77);
    expect(online, report).toBeLessThanOrEqual(0.83);
    // The check can fail: static corrections, pooled or per zone, stay far below.
    expect(broken.at500!.pooled, report).toBeLessThan(0.65);
    expect(broken.at500!.segment, report).toBeLessThan(0.65);
  });

  it('leaves the other zones alone: their ranges ignore the break, and each covers 0.80 within its band', () => {
    const report = JSON.stringify({ others: broken.othersPooled, zones: broken.otherZones });
    // Not one of their ranges moves when the broken zone's outcomes are withheld; pooled online ranges do.
    expect(withheld.othersPooled.coverage.segmentOnline).toBe(broken.othersPooled.coverage.segmentOnline);
    expect(withheld.othersWidth.segmentOnline).toBe(broken.othersWidth.segmentOnline);
    expect(withheld.othersWidth.pooledOnline).not.toBe(broken.othersWidth.pooledOnline);
    expect(broken.othersPooled.n, report).toBeGreaterThan(10_000);
    expect(Math.abs(broken.othersPooled.coverage.segmentOnline - 0.8), report).toBeLessThanOrEqual(0.03);
    for (const zone of broken.otherZones.filter((z) => z.n >= 200)) {
      const c = zone.coverage.segmentOnline;
      expect(c >= zone.band[0] && c <= zone.band[1], `${zone.zone}: ${report}`).toBe(true);
    }
  });
});
