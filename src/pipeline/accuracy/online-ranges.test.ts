import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryEventLog, type EtaEvent } from '../../events/index.js';
import { rangeSegment, storeZone } from '../../features/index.js';
import { OnlineSegmentedRanges, SegmentedRanges, type ModelArtifact } from '../../model/index.js';
import { createLogger } from '../../platform/index.js';
import { InMemoryModelRegistry, restoreOnlineRanges } from '../../registry/index.js';
import { generateHistory } from '../../simulator/index.js';
import { trainFromHistory } from '../training/train-model.js';
import { OnlineRangesFeeder, type StorePlace } from './online-ranges.js';

const logger = createLogger({ level: 'silent' });
let artifact: ModelArtifact;
let places: Map<string, StorePlace>;
let storeA: string;
let storeB: string;
/** Dinner in Paris (UTC+1 in January): every test order is in the same daypart. */
const DINNER_MS = Date.UTC(2026, 0, 12, 18, 30);

beforeAll(async () => {
  const history = generateHistory({
    seed: 5,
    days: 6,
    stores: 30,
    ordersPerDay: 300,
    startMs: Date.UTC(2026, 0, 5),
  });
  artifact = (await trainFromHistory(history, { params: { nTrees: 40 } })).artifact;
  places = new Map(history.stores.map((s) => [s.storeId, { location: s.location, timezone: s.timezone }]));
  const [a, b] = history.stores;
  storeA = a!.storeId;
  storeB =
    history.stores.find((s) => storeZone(s.location) !== storeZone(a!.location))?.storeId ?? b!.storeId;
}, 60_000);

function created(id: string, store: string, atMs: number, range: [number, number], eta: number): EtaEvent {
  return {
    event_id: `c-${id}`,
    type: 'order.created',
    occurred_at: new Date(atMs).toISOString(),
    order_id: id,
    store_id: store,
    destination: { lat: 48.86, lng: 2.34 },
    items: 1,
    subtotal: 10,
    quoted_eta_seconds: eta,
    quoted_range_seconds: range,
    promised_at: new Date(atMs + eta * 1000).toISOString(),
    model_version: 'v1',
  } as EtaEvent;
}

function delivered(id: string, store: string, atMs: number): EtaEvent {
  return {
    event_id: `d-${id}`,
    type: 'order.delivered',
    occurred_at: new Date(atMs).toISOString(),
    order_id: id,
    store_id: store,
  } as EtaEvent;
}

/** Log time: every test decides when its events reach the log, so publications fall where it says. */
let clock = DINNER_MS;

async function setup(registry = new InMemoryModelRegistry()) {
  if (!(await registry.get('v1'))) {
    await registry.register(artifact, { source: 'test' });
    await registry.setAlias('champion', 'v1');
  }
  const log = new MemoryEventLog({ dedupeWindowMs: 3_600_000, dedupeMaxIds: 100_000, now: () => clock });
  return { registry, log };
}

function feeder(log: MemoryEventLog, registry: InMemoryModelRegistry, holder = 'test') {
  return new OnlineRangesFeeder({
    log,
    registry,
    stores: async (ids) => new Map(ids.flatMap((id) => (places.has(id) ? [[id, places.get(id)!]] : []))),
    replayHours: 24 * 365,
    pollMs: 10,
    saveIntervalMs: 60_000,
    holder,
    logger,
    now: () => clock,
  });
}

/** The model's own range for every test order (before any correction): the median and its p10/p90. */
const BASE: [number, number, number] = [1000, 1500, 2000];

/** What a predictor serves now for a store at dinner, from the feeder's last save (the predictor's path). */
async function served(f: OnlineRangesFeeder, registry: InMemoryModelRegistry, store: string) {
  await f.caughtUp();
  await f.save();
  const saved = await registry.loadOnlineRanges('v1');
  const ranges = SegmentedRanges.fromArtifact(artifact)!;
  // Before the first save, a predictor serves a fresh state: the artifact's factors.
  const online = saved ? restoreOnlineRanges(saved.state, ranges).served : new OnlineSegmentedRanges(ranges);
  const { zone, daypart } = rangeSegment(places.get(store)!, DINNER_MS);
  const q = online.quote(BASE, { zone, daypart });
  return { range: [Math.round(q.lower), Math.round(q.upper)] as [number, number], factor: q.factor };
}

describe('per-segment online ranges fed by the accuracy join', () => {
  it('trains the champion with zone and daypart segments', () => {
    expect(artifact.calibration?.segments?.columns).toEqual(['zone', 'daypart']);
  });

  it("widens a segment after its own misses only, and judges a late outcome against its own quote's range", async () => {
    const { registry, log } = await setup();
    const f = feeder(log, registry);
    await f.start();
    const start = await served(f, registry, storeA);
    const other = await served(f, registry, storeB);
    // Placed first with the range of the time, delivered last: after its segment has widened.
    await log.append([created('late', storeA, DINNER_MS, start.range, 1500)]);
    let inside = 0;
    for (let i = 0; i < 60; i++) {
      const at = DINNER_MS + 1000 * (i + 1);
      // Five seconds between orders: each is quoted from the publication the one before it brought.
      clock += 5000;
      const { range } = await served(f, registry, storeA);
      // Three base half-widths above the median: a miss until the range has widened about threefold.
      const y = 3000;
      if (y <= range[1]) inside++;
      await log.append([
        created(`a${i}`, storeA, at, range, 1500),
        delivered(`a${i}`, storeA, at + y * 1000),
      ]);
    }
    clock += 5000;
    await log.append([created('tick', storeB, DINNER_MS, other.range, 1500)]);
    const widened = await served(f, registry, storeA);
    // 1.6 of the late order's half-width above the median: outside its own range, inside the widened one.
    const late = 1500 + 1.6 * (start.range[1] - 1500);
    expect(late).toBeGreaterThan(start.range[1]);
    expect(late).toBeLessThan(widened.range[1]);
    await log.append([delivered('late', storeA, DINNER_MS + late * 1000)]);
    await f.caughtUp();

    const zoneA = storeZone(places.get(storeA)!.location);
    const cell = f.summary().find((r) => r.zone === zoneA && r.daypart === 'dinner')!;
    expect(widened.factor / start.factor).toBeGreaterThan(2.5);
    // Wide enough for outcomes three half-widths out, and no further: each score was taken against the range
    // its order was given, not a wider one, so nothing feeds on itself.
    expect(widened.factor / start.factor).toBeLessThan(4);
    expect(inside).toBeGreaterThan(0);
    expect(cell).toMatchObject({
      model_version: 'v1',
      outcomes: 61,
      coverage_ratio: Math.round((inside / 61) * 1e4) / 1e4,
    });
    // Zone B never had an outcome: it serves the artifact's range, as at the start.
    expect(await served(f, registry, storeB)).toEqual(other);
    expect(f.summary().filter((r) => r.zone !== zoneA && r.outcomes > 0)).toEqual([]);
    await f.close();
  });

  it('restarts from its save: the state ends identical to a feeder that never stopped, in-flight quotes included', async () => {
    const { registry, log } = await setup();
    const first: EtaEvent[] = [];
    const second: EtaEvent[] = [];
    for (let i = 0; i < 40; i++) {
      const at = DINNER_MS + 60_000 * i;
      const store = i % 2 ? storeA : storeB;
      first.push(created(`o${i}`, store, at, [1300, 1900], 1500));
      // Half the orders are delivered after the restart: their quotes come from the save.
      (i % 4 === 0 ? second : first).push(delivered(`o${i}`, store, at + (1000 + 40 * i) * 1000));
    }
    for (let i = 40; i < 60; i++) {
      const at = DINNER_MS + 60_000 * i;
      second.push(created(`o${i}`, storeA, at, [1300, 1900], 1500));
      second.push(delivered(`o${i}`, storeA, at + 2500 * 1000));
    }
    await log.append(first);
    const before = feeder(log, registry, 'one');
    await before.start();
    await before.caughtUp();
    await before.close();
    await log.append(second);
    const after = feeder(log, registry, 'two');
    await after.start();
    await after.caughtUp();

    const other = await setup();
    await other.log.append([...first, ...second]);
    const straight = feeder(other.log, other.registry, 'three');
    await straight.start();
    await straight.caughtUp();
    expect(after.stateOf('v1')!.toJSON()).toEqual(straight.stateOf('v1')!.toJSON());
    expect(after.summary().reduce((n, r) => n + r.outcomes, 0)).toBe(60);
    await after.close();
    await straight.close();
  });

  it('starts a promoted version from its own artifact factors, leaving the previous version’s state alone', async () => {
    const { registry, log } = await setup();
    const f = feeder(log, registry);
    await f.start();
    const misses: EtaEvent[] = [];
    for (let i = 0; i < 30; i++) {
      const at = DINNER_MS + 1000 * i;
      misses.push(created(`m${i}`, storeA, at, [1400, 1600], 1500));
      misses.push(delivered(`m${i}`, storeA, at + 3000 * 1000));
    }
    await log.append(misses);
    await f.caughtUp();
    const v1 = JSON.stringify(f.stateOf('v1')!.toJSON());
    const v2 = await registry.register(artifact, { source: 'test' });
    await registry.setAlias('champion', v2.version);
    const next = created('n1', storeA, DINNER_MS + 60_000, [1400, 1600], 1500);
    await log.append([{ ...next, model_version: v2.version }]);
    await f.caughtUp();
    const { zone, daypart } = rangeSegment(places.get(storeA)!, DINNER_MS);
    const fresh = f.stateOf(v2.version)!.quote([1000, 1500, 2000], { zone, daypart });
    const ranges = SegmentedRanges.fromArtifact(artifact)!;
    // Its first multiplier comes from its artifact's score sketch: "as calibrated", about 1.
    expect(fresh.cellFactor).toBe(ranges.factorFor({ zone, daypart }));
    expect(fresh.multiplier).toBeGreaterThan(0.8);
    expect(fresh.multiplier).toBeLessThan(1.25);
    expect(f.stateOf('v1')!.quote([1000, 1500, 2000], { zone, daypart }).multiplier).toBeGreaterThan(2);
    expect(JSON.stringify(f.stateOf('v1')!.toJSON())).not.toBe(v1); // the quote above counted, nothing else
    await f.close();
  });
});
