import { describe, expect, it } from 'vitest';
import {
  calibrateSegments,
  loadModel,
  parseModel,
  scaleRange,
  SegmentedRanges,
  train,
  withSegmentCalibration,
  type ModelArtifact,
  type TrainingData,
} from '../index.js';
import { Rng } from '../rng.js';

/** Noise sd per zone; the zone is not a feature, so the model cannot tell the volatile one apart. */
const NOISE = { calm: 1, usual: 2, volatile: 5, rare: 5 } as const;
type Zone = keyof typeof NOISE;

/** y = 3a + noise(zone); zones by share: usual 45%, calm 30%, volatile 23%, rare 2%; daypart is lunch or dinner. */
function rows(n: number, seed: number): TrainingData {
  const rng = new Rng(seed);
  const a = new Float64Array(n);
  const y = new Float64Array(n);
  const zone: string[] = [];
  const daypart: string[] = [];
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    const z: Zone = u < 0.3 ? 'calm' : u < 0.75 ? 'usual' : u < 0.98 ? 'volatile' : 'rare';
    const gauss = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    a[i] = rng.next() * 10;
    y[i] = 20 + 3 * a[i]! + NOISE[z] * gauss;
    zone.push(z);
    daypart.push(rng.next() < 0.5 ? 'lunch' : 'dinner');
  }
  return { spec: [{ name: 'a', type: 'numeric' }], columns: [a], target: y, segments: { zone, daypart } };
}

const trainSet = rows(6000, 1);
const validSet = rows(4000, 2);
const testSet = rows(8000, 3);
const params = { objective: 'quantile', nTrees: 80, learningRate: 0.1, maxDepth: 3 } as const;
const zoned = await train(trainSet, validSet, { ...params, segmentColumns: ['zone'] });

/** Coverage of the test rows of each zone: the served (pooled) range and the zone's range. */
function coverageByZone(
  artifact: ModelArtifact,
): Record<string, { pooled: number; zone: number; n: number }> {
  const m = loadModel(artifact);
  if (!m.ok) throw m.error;
  const ranges = SegmentedRanges.fromArtifact(artifact)!;
  const out = new Float64Array(3);
  const acc: Record<string, { pooled: number; zone: number; n: number }> = {};
  testSet.target.forEach((y, i) => {
    m.value.predict([testSet.columns[0]![i]!], out);
    const zone = testSet.segments!.zone![i]!;
    const r = ranges.intervalFor(out, { zone });
    const e = (acc[zone] ??= { pooled: 0, zone: 0, n: 0 });
    e.n++;
    if (y >= out[0]! && y <= out[2]!) e.pooled++;
    if (y >= r.lower && y <= r.upper) e.zone++;
  });
  for (const e of Object.values(acc)) {
    e.pooled /= e.n;
    e.zone /= e.n;
  }
  return acc;
}

describe('per-segment (Mondrian) calibration', () => {
  it('splits the validation rows by segment and gives each its own factor', () => {
    const seg = zoned.calibration!.segments!;
    expect(zoned.formatVersion).toBe(2);
    expect(seg.columns).toEqual(['zone']);
    expect(seg.cells.map((c) => c.labels)).toEqual([[], ['calm'], ['rare'], ['usual'], ['volatile']]);
    const cell = (z: string) => seg.cells.find((c) => c.labels[0] === z)!;
    expect(seg.cells[0]!.rows).toBe(validSet.target.length);
    expect(cell('calm').rows + cell('usual').rows + cell('volatile').rows + cell('rare').rows).toBe(4000);
    // Each zone's own rows set its factor: the volatile zone needs a much wider range than the calm one.
    expect(cell('volatile').factor).toBeGreaterThan(1.6);
    expect(cell('calm').factor).toBeLessThan(0.6);
    for (const z of ['calm', 'usual', 'volatile']) {
      expect(cell(z).source).toBe('own');
      expect(cell(z).coverageAfter).toBeGreaterThanOrEqual(0.8);
      expect(cell(z).coverageAfter).toBeLessThan(0.82);
      expect(cell(z).scores.length).toBe(100);
    }
  });

  it('covers the nominal share in every segment on new data, where the pooled range does not', () => {
    const by = coverageByZone(zoned);
    expect(by.volatile!.pooled).toBeLessThan(0.65);
    expect(by.calm!.pooled).toBeGreaterThan(0.95);
    for (const z of ['calm', 'usual', 'volatile']) {
      expect(by[z]!.zone, z).toBeGreaterThan(0.77);
      expect(by[z]!.zone, z).toBeLessThan(0.83);
    }
  });

  it("gives a sparse segment its parent's factor, and an unknown or missing label the parent's cell", () => {
    const seg = zoned.calibration!.segments!;
    const rare = seg.cells.find((c) => c.labels[0] === 'rare')!;
    expect(rare.rows).toBeLessThan(seg.minRows);
    expect(rare.source).toBe('parent');
    expect(rare.factor).toBe(seg.cells[0]!.factor);
    expect(rare.scores).toEqual([]);
    const ranges = SegmentedRanges.fromArtifact(zoned)!;
    for (const unknown of [{ zone: 'new-zone' }, { zone: '' }, { zone: null }, {}])
      expect(ranges.cellFor(unknown).labels).toEqual([]);
    expect(ranges.cellFor({ zone: 'volatile', other: 'ignored' }).labels).toEqual(['volatile']);
  });

  it('nests crossed columns, each level falling back to the one above', async () => {
    const crossed = withSegmentCalibration(zoned, validSet, { columns: ['zone', 'daypart'], minRows: 700 });
    const seg = crossed.calibration!.segments!;
    const cell = (...labels: string[]) =>
      seg.cells.find((c) => JSON.stringify(c.labels) === JSON.stringify(labels))!;
    // usual (45%) splits into two dayparts of ~900 rows: their own; volatile (23%) into ~460: the zone's factor.
    expect(cell('usual', 'lunch').source).toBe('own');
    expect(cell('volatile', 'dinner').source).toBe('parent');
    expect(cell('volatile', 'dinner').factor).toBe(cell('volatile').factor);
    expect(cell('rare', 'lunch').factor).toBe(cell().factor);
    const ranges = SegmentedRanges.fromArtifact(crossed)!;
    expect(ranges.cellFor({ zone: 'usual', daypart: 'lunch' }).labels).toEqual(['usual', 'lunch']);
    expect(ranges.cellFor({ zone: 'usual', daypart: 'brunch' }).labels).toEqual(['usual']);
    expect(ranges.cellFor({ daypart: 'lunch' }).labels).toEqual([]);
    expect(ranges.pathOf({ zone: 'usual', daypart: 'lunch' }).map((c) => c.labels.length)).toEqual([0, 1, 2]);
    // Recalibrating kept the trees and the pooled calibration.
    expect(crossed.trees).toBe(zoned.trees);
    expect(crossed.calibration!.adjustment).toBe(zoned.calibration!.adjustment);
  });

  it("shrinks a segment's own factor towards its parent's by shrinkRows", () => {
    const ranges = { lo: [0, 0, 0, 0], median: [1, 1, 1, 1], hi: [2, 2, 2, 2] };
    // Scores 0.5, 1, 3, 4 in zone a: its own 0.8 factor is 4 (rank ceil(5 · 0.8) = 4); pooled with b's: lower.
    const target = [1.5, 2, 4, 5];
    const own = calibrateSegments(ranges, target, [['a', 'a', 'a', 'a']], {
      columns: ['z'],
      nominal: 0.8,
      minRows: 2,
    });
    expect(own.cells[1]!.factor).toBe(4);
    const shrunk = calibrateSegments(ranges, target, [['a', 'a', 'a', 'a']], {
      columns: ['z'],
      nominal: 0.8,
      minRows: 2,
      shrinkRows: 4,
    });
    const pooled = shrunk.cells[0]!.factor;
    expect(shrunk.cells[1]!.factor).toBeCloseTo((4 * 4 + 4 * pooled) / 8, 12);
  });

  it('keeps lower ≤ median ≤ upper for any factor, even on crossed inputs', () => {
    const factors = [0, 1e-300, 0.5, 1, 7, 1e300, Infinity, -1, -Infinity, NaN];
    const inputs: Array<[number, number, number]> = [
      [10, 12, 20],
      [12, 12, 12],
      [15, 12, 20], // lower above the median
      [10, 12, 11], // upper below it
      [20, 12, 5], // both crossed
      [-1e308, 0, 1e308],
      [-Infinity, 0, Infinity],
    ];
    for (const f of factors)
      for (const [lo, m, hi] of inputs) {
        const [a, b] = scaleRange(lo, m, hi, f);
        expect(a <= m && m <= b, `${f} on ${lo},${m},${hi}: ${a},${b}`).toBe(true);
      }
  });

  it('corrects every quantile of a wider model in order, the outer pair as intervalFor does', async () => {
    const five = await train(trainSet, validSet, {
      ...params,
      quantiles: [0.05, 0.1, 0.5, 0.9, 0.95],
      segmentColumns: ['zone'],
    });
    const m = loadModel(five);
    if (!m.ok) throw m.error;
    const ranges = SegmentedRanges.fromArtifact(five)!;
    const raw = new Float64Array(5);
    const out = new Float64Array(5);
    for (const zone of ['calm', 'volatile', 'rare', 'elsewhere'])
      for (const a of [-50, 0, 3.3, 9.9, 1e4, NaN]) {
        m.value.predict([a], raw);
        const factor = ranges.correct(raw, { zone }, out);
        expect(factor).toBe(ranges.factorFor({ zone }));
        expect([...out], `${zone} ${a}`).toEqual([...out].sort((x, y) => x - y));
        const r = ranges.intervalFor(raw, { zone });
        expect([out[0], out[2], out[4]]).toEqual([r.lower, r.median, r.upper]);
      }
  });

  it('round-trips through JSON and refuses damaged segment records', () => {
    const text = JSON.stringify(zoned);
    const back = parseModel(text);
    if (!back.ok) throw back.error;
    expect(back.value.artifact.calibration).toEqual(zoned.calibration);
    const a = SegmentedRanges.fromArtifact(zoned)!;
    const b = SegmentedRanges.fromArtifact(back.value.artifact)!;
    for (const zone of ['calm', 'volatile', 'rare', 'nowhere'])
      expect(b.factorFor({ zone })).toBe(a.factorFor({ zone }));
    const damaged = (edit: (a: ModelArtifact) => void): string => {
      const copy = JSON.parse(text) as ModelArtifact;
      edit(copy);
      const r = loadModel(copy);
      return r.ok ? 'loaded' : `${r.error.path}: ${r.error.message}`;
    };
    expect(damaged((c) => (c.calibration!.segments!.cells[1]!.factor = -1))).toMatch(/cells\[1\]\.factor/);
    expect(damaged((c) => c.calibration!.segments!.cells.shift())).toMatch(/pooled cell/);
    expect(damaged((c) => (c.calibration!.segments!.cells[2]!.labels = ['calm']))).toMatch(/listed twice/);
    expect(damaged((c) => (c.calibration!.score = 'additive'))).toMatch(/segments/);
    expect(damaged((c) => (c.formatVersion = 1))).toMatch(/^formatVersion: .*format 2/);
  });

  it('refuses segment calibration without a non-crossing calibrated model', async () => {
    await expect(
      train(trainSet, validSet, { ...params, quantileMethod: 'independent', segmentColumns: ['zone'] }),
    ).rejects.toThrow(/segmentColumns need/);
    await expect(train(trainSet, validSet, { ...params, segmentColumns: ['nope'] })).rejects.toThrow(
      /segment column nope/,
    );
  });
});
