// Live ETA through the order's life (issue 15): the three leg models (ready, pickup, door) against the baseline
// "checkout quote minus elapsed time", on the simulator's order lives with a time-ordered split (train 50%,
// calibration 25%, test 25% of delivered orders by creation). Also a direct model of the remaining total (one
// booster, the stage a feature, the same per-stage calibration), to compare the two ways of combining.
// Writes bench/results/orders-<date>.{json,md}; then the live-ETA update latency (latency.ts), unless --no-latency.
//   npm run bench:orders -- [--quick] [--results-dir=bench/results] [--no-latency]
import { resolve } from 'node:path';
import { loadModel, train, type Model, type TrainingData } from '../../src/model/index.js';
import {
  combineLegs,
  fitStageCalibration,
  LEG_FEATURE_SPEC,
  legFeatures,
  LIVE_STAGES,
  normalCdf,
  rawCdf,
  rawQuantile,
  calibratedLevel,
  calibratedProbability,
  SAMPLES,
  type LiveStage,
  type StageCalibration,
} from '../../src/orders/index.js';
import {
  DEFAULT_TRAIN_PARAMS,
  orderSnapshots,
  trainFromHistory,
  trainOrderLegs,
  type LifeSnapshot,
} from '../../src/pipeline/index.js';
import { generateHistory } from '../../src/simulator/index.js';
import { machineInfo, REPO_ROOT, RESULTS_DIR, today, writeResults } from '../lib/results.js';

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const QUICK = process.argv.includes('--quick');
const RESULTS = arg('results-dir') ? resolve(REPO_ROOT, arg('results-dir')!) : RESULTS_DIR;
const CITY = QUICK
  ? { seed: 42, days: 14, stores: 60, ordersPerDay: 800 }
  : { seed: 42, days: 28, stores: 150, ordersPerDay: 2500 };
/** Calibration and test are a quarter each: about a week, so each holds the weekly cycle. */
const SPLIT = { train: 0.5, calibration: 0.25 };
/** The gateway's default promise: p50 + 180 s, rounded up to the minute (src/gateway/promise.ts). */
const PROMISE_BUFFER_S = 180;
const LATENCY_CALLS = QUICK ? 20_000 : 100_000;
const DAY = 86_400_000;
const Z90 = 1.2815515655446004;
const feat = new Float64Array(LEG_FEATURE_SPEC.length);

const t0 = Date.now();
const log = (m: string): void => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${m}`);

// ---------------------------------------------------------------------------------------------------------- data
const history = generateHistory({
  ...CITY,
  startMs: Math.floor(Date.UTC(2026, 10, 2) / DAY) * DAY,
});
log(`simulated ${history.orders.length} orders, ${history.riderPings.count} rider pings`);

// The checkout model, trained as the pipeline trains it, on the same first half; its quote is the baseline.
const checkout = await trainFromHistory(history, { split: { train: SPLIT.train, valid: SPLIT.calibration } });
const checkoutModel = unwrap(loadModel(checkout.artifact));
log(`checkout model: MAE ${(checkout.metrics.mae_s! / 60).toFixed(2)} min on its hold-out`);

const trainStarted = Date.now();
const trained = await trainOrderLegs(history, {
  split: SPLIT,
  checkoutTable: checkout.table,
  onProgress: log,
});
const trainSeconds = (Date.now() - trainStarted) / 1000;
const legs = trained.legs;

const calSnaps = orderSnapshots(history, trained.table, {
  fromMs: trained.trainEndMs,
  toMs: trained.calibrationEndMs,
  seed: 2,
});
const testSnaps = orderSnapshots(history, trained.table, { fromMs: trained.calibrationEndMs, seed: 99 });
log(`${calSnaps.length} calibration and ${testSnaps.length} test snapshots`);

// The quote of each order: the checkout model's p10/p50/p90 on its checkout row, and the gateway's promise.
const rowOf = new Map<number, number>();
for (let r = 0; r < trained.table.nRows; r++) rowOf.set(trained.table.orderIndex[r]!, r);
const quoteOf = new Map<number, { p10: number; p50: number; p90: number; promisedAtMs: number }>();
const checkoutRow = new Float64Array(trained.table.spec.length);
const checkoutOut = new Float64Array(8);
const names = checkoutModel.outputNames;
function quote(order: number): { p10: number; p50: number; p90: number; promisedAtMs: number } {
  let q = quoteOf.get(order);
  if (q) return q;
  const r = rowOf.get(order)!;
  for (let f = 0; f < checkoutRow.length; f++) checkoutRow[f] = trained.table.columns[f]![r]!;
  checkoutModel.predict(checkoutRow, checkoutOut);
  const p50 = checkoutOut[names.indexOf('p50')]!;
  const created = trained.table.createdAtMs[r]!;
  q = {
    p10: checkoutOut[names.indexOf('p10')]!,
    p50,
    p90: checkoutOut[names.indexOf('p90')]!,
    promisedAtMs: Math.ceil((created + (p50 + PROMISE_BUFFER_S) * 1000) / 60_000) * 60_000,
  };
  quoteOf.set(order, q);
  return q;
}
for (const s of [...calSnaps, ...testSnaps]) {
  const q = quote(s.order);
  s.snapshot.quote = {
    p10Seconds: q.p10,
    p50Seconds: q.p50,
    p90Seconds: q.p90,
    promisedAtMs: q.promisedAtMs,
  };
}
const deliveredAt = (s: LifeSnapshot): number => s.nowMs + s.remaining * 1000;
const isLate = (s: LifeSnapshot): number => (deliveredAt(s) > s.snapshot.quote!.promisedAtMs ? 1 : 0);

// ------------------------------------------------------------------------------------------------ direct model
// One booster on the remaining total, every stage's snapshots, the stage a feature, early stopping on the calibration
// window as the legs; calibrated per stage like the legs (its own quantiles read as one split-normal "leg").
const directStarted = Date.now();
const trainSnaps = orderSnapshots(history, trained.table, { toMs: trained.trainEndMs, seed: 1 });
const direct = unwrap(
  loadModel(
    await train(rows(trainSnaps), rows(calSnaps), {
      ...DEFAULT_TRAIN_PARAMS,
      segmentColumns: [],
      objective: 'quantile',
      quantiles: [0.1, 0.5, 0.9],
    }),
  ),
);
const directDraws = (s: LifeSnapshot): Float64Array => {
  legFeatures(s.snapshot, s.nowMs, feat);
  direct.predict(feat, checkoutOut);
  const dn = direct.outputNames;
  return combineLegs(
    [
      {
        p10: checkoutOut[dn.indexOf('p10')]!,
        p50: checkoutOut[dn.indexOf('p50')]!,
        p90: checkoutOut[dn.indexOf('p90')]!,
      },
    ],
    new Float64Array(SAMPLES),
  );
};
const directCal = {} as Record<LiveStage, StageCalibration>;
for (const stage of LIVE_STAGES) {
  const of = calSnaps.filter((s) => s.snapshot.stage === stage);
  directCal[stage] = fitStageCalibration(Float64Array.from(of, (s) => rawCdf(directDraws(s), s.remaining)));
}
const directSeconds = (Date.now() - directStarted) / 1000;
log(`direct model: ${direct.artifact.trees.length} trees in ${directSeconds.toFixed(1)} s`);

// ---------------------------------------------------------------------------------------------------- evaluate
interface Prediction {
  p10: number;
  p50: number;
  p90: number;
  pLate: number;
}
type Method = 'legs' | 'direct' | 'baseline';

function predictLegs(s: LifeSnapshot): Prediction {
  const r = legs.remaining(s.snapshot, s.nowMs);
  return { p10: r.p10, p50: r.p50, p90: r.p90, pLate: r.pLate() };
}
function predictDirect(s: LifeSnapshot): Prediction {
  const draws = directDraws(s);
  const cal = directCal[s.snapshot.stage as LiveStage];
  const at = (u: number): number => rawQuantile(draws, calibratedLevel(cal, u));
  const left = (s.snapshot.quote!.promisedAtMs - s.nowMs) / 1000;
  return {
    p10: at(0.1),
    p50: at(0.5),
    p90: at(0.9),
    pLate: left <= 0 ? 1 : 1 - calibratedProbability(cal, rawCdf(draws, left)),
  };
}
/** The quote as a split normal of the total time T, conditioned on T > elapsed: P(T > promise | T > elapsed). */
function predictBaseline(s: LifeSnapshot): Prediction {
  const q = s.snapshot.quote!;
  const e = (s.nowMs - s.snapshot.createdAtMs) / 1000;
  const survival = (t: number): number => {
    const sd = (t < q.p50Seconds ? q.p50Seconds - q.p10Seconds : q.p90Seconds - q.p50Seconds) / Z90;
    return 1 - normalCdf(sd > 0 ? (t - q.p50Seconds) / sd : t >= q.p50Seconds ? 1e9 : -1e9);
  };
  const d = (q.promisedAtMs - s.snapshot.createdAtMs) / 1000;
  const se = survival(e);
  return {
    p10: Math.max(0, q.p10Seconds - e),
    p50: Math.max(0, q.p50Seconds - e),
    p90: Math.max(0, q.p90Seconds - e),
    pLate: d <= e ? 1 : se > 1e-12 ? Math.min(1, survival(d) / se) : 1,
  };
}
const predictors: Record<Method, (s: LifeSnapshot) => Prediction> = {
  legs: predictLegs,
  direct: predictDirect,
  baseline: predictBaseline,
};

/** The late share per stage on the calibration split: the constant base-rate forecast. */
const baseRate = {} as Record<LiveStage, number>;
for (const stage of LIVE_STAGES) {
  const of = calSnaps.filter((s) => s.snapshot.stage === stage);
  baseRate[stage] = of.reduce((a, s) => a + isLate(s), 0) / of.length;
}

interface StageFigures {
  n: number;
  mae_min: number;
  coverage_p10_p90: number;
  width_min: number;
  brier: number;
}
const BINS = 10;
interface Reliability {
  bin: string;
  n: number;
  mean_predicted: number;
  observed_late: number;
}
const figures: Record<Method, Record<string, StageFigures>> = { legs: {}, direct: {}, baseline: {} };
const reliability: Record<Method, Reliability[]> = { legs: [], direct: [], baseline: [] };
const brierBaseRate: Record<string, number> = {};
for (const method of Object.keys(predictors) as Method[]) {
  const predict = predictors[method];
  const bins = Array.from({ length: BINS }, () => ({ n: 0, p: 0, late: 0 }));
  for (const stage of [...LIVE_STAGES, 'all'] as const) {
    const of = stage === 'all' ? testSnaps : testSnaps.filter((s) => s.snapshot.stage === stage);
    let ae = 0;
    let inside = 0;
    let width = 0;
    let brier = 0;
    let brierBase = 0;
    for (const s of of) {
      const p = predict(s);
      const late = isLate(s);
      ae += Math.abs(p.p50 - s.remaining);
      if (s.remaining >= p.p10 && s.remaining <= p.p90) inside++;
      width += p.p90 - p.p10;
      brier += (p.pLate - late) ** 2;
      brierBase += (baseRate[s.snapshot.stage as LiveStage] - late) ** 2;
      if (stage === 'all') {
        const b = bins[Math.min(BINS - 1, Math.floor(p.pLate * BINS))]!;
        b.n++;
        b.p += p.pLate;
        b.late += late;
      }
    }
    figures[method][stage] = {
      n: of.length,
      mae_min: round(ae / of.length / 60, 3),
      coverage_p10_p90: round(inside / of.length, 3),
      width_min: round(width / of.length / 60, 2),
      brier: round(brier / of.length, 4),
    };
    brierBaseRate[stage] = round(brierBase / of.length, 4);
  }
  reliability[method] = bins.map((b, k) => ({
    bin: `${(k / BINS).toFixed(1)}–${((k + 1) / BINS).toFixed(1)}`,
    n: b.n,
    mean_predicted: round(b.n ? b.p / b.n : Number.NaN, 3),
    observed_late: round(b.n ? b.late / b.n : Number.NaN, 3),
  }));
  log(`evaluated ${method}`);
}

// ----------------------------------------------------------------------------------------------------- latency
const sample = testSnaps.slice(0, 5000);
for (let k = 0; k < 5000; k++)
  legs.remaining(sample[k % sample.length]!.snapshot, sample[k % sample.length]!.nowMs).pLate();
const lat = new Float64Array(LATENCY_CALLS);
for (let k = 0; k < LATENCY_CALLS; k++) {
  const s = sample[k % sample.length]!;
  const start = process.hrtime.bigint();
  legs.remaining(s.snapshot, s.nowMs).pLate();
  lat[k] = Number(process.hrtime.bigint() - start) / 1000;
}
lat.sort();
const latency = {
  calls: LATENCY_CALLS,
  p50_us: round(lat[Math.floor(LATENCY_CALLS * 0.5)]!, 1),
  p99_us: round(lat[Math.floor(LATENCY_CALLS * 0.99)]!, 1),
  max_us: round(lat[LATENCY_CALLS - 1]!, 1),
};
log(`remaining() + pLate(): p50 ${latency.p50_us} us, p99 ${latency.p99_us} us`);

// ------------------------------------------------------------------------------------------------------ report
const lateShare = testSnaps.reduce((a, s) => a + isLate(s), 0) / testSnaps.length;
const stageRows = [...LIVE_STAGES, 'all'] as const;
const targets = {
  pickup_mae_at_most_half_baseline:
    figures.legs.picked_up!.mae_min <= figures.baseline.picked_up!.mae_min / 2,
  coverage_every_stage_0_78_0_82: LIVE_STAGES.every(
    (s) => figures.legs[s]!.coverage_p10_p90 >= 0.78 && figures.legs[s]!.coverage_p10_p90 <= 0.82,
  ),
  brier_below_baselines:
    figures.legs.all!.brier < figures.baseline.all!.brier && figures.legs.all!.brier < brierBaseRate.all!,
};
const result = {
  name: 'orders',
  date: today(),
  machine: machineInfo(),
  city: CITY,
  split: SPLIT,
  promise: `checkout model p50 + ${PROMISE_BUFFER_S} s, rounded up to the minute`,
  orders: history.orders.length,
  snapshots: { calibration: calSnaps.length, test: testSnaps.length },
  late_share_test: round(lateShare, 3),
  train_seconds: { legs: round(trainSeconds, 1), direct: round(directSeconds, 1) },
  legs_metrics: trained.artifact.metrics,
  figures,
  brier_base_rate: brierBaseRate,
  reliability,
  latency,
  targets,
  seconds: round((Date.now() - t0) / 1000, 1),
};

const pct = (v: number): string => v.toFixed(3);
const md = [
  `# Live ETA through the order's life: legs vs checkout quote (${QUICK ? 'quick' : 'full'})`,
  '',
  `Simulated city: ${CITY.stores} stores, ${CITY.days} days, ${CITY.ordersPerDay} orders a day (seed ${CITY.seed}), ` +
    `${history.orders.length} orders. Time-ordered split of delivered orders by creation: train 50%, calibration 25%, ` +
    `test 25% (${testSnaps.length} test snapshots: each stage's start and one uniform moment inside it). The baseline ` +
    `is the checkout model (trained by the pipeline on the same first half) minus the elapsed time; the promise is its p50 + ` +
    `${PROMISE_BUFFER_S} s rounded up to the minute; ${(lateShare * 100).toFixed(1)}% of test snapshots are of late orders. ` +
    `${machineNote()}`,
  '',
  '## Remaining time by stage (test)',
  '',
  '| stage | n | legs MAE | direct MAE | baseline MAE | legs / baseline | legs p10–p90 coverage (width) | direct coverage (width) | baseline coverage |',
  '|---|---|---|---|---|---|---|---|---|',
  ...stageRows.map((s) => {
    const l = figures.legs[s]!;
    const d = figures.direct[s]!;
    const b = figures.baseline[s]!;
    return `| ${s} | ${l.n} | ${l.mae_min.toFixed(2)} min | ${d.mae_min.toFixed(2)} min | ${b.mae_min.toFixed(2)} min | ${(l.mae_min / b.mae_min).toFixed(2)} | ${pct(l.coverage_p10_p90)} (${l.width_min.toFixed(1)} min) | ${pct(d.coverage_p10_p90)} (${d.width_min.toFixed(1)} min) | ${pct(b.coverage_p10_p90)} |`;
  }),
  '',
  '## P(late): Brier score (test; lower is better)',
  '',
  '| stage | legs | direct | quote-implied P(T > promise ∣ T > elapsed) | base rate per stage (calibration split) |',
  '|---|---|---|---|---|',
  ...stageRows.map(
    (s) =>
      `| ${s} | ${figures.legs[s]!.brier.toFixed(4)} | ${figures.direct[s]!.brier.toFixed(4)} | ${figures.baseline[s]!.brier.toFixed(4)} | ${brierBaseRate[s]!.toFixed(4)} |`,
  ),
  '',
  '## Reliability of P(late), all stages (test)',
  '',
  '| predicted | legs: n, mean predicted, observed late | direct | quote-implied baseline |',
  '|---|---|---|---|',
  ...reliability.legs.map((r, k) => {
    const cell = (x: Reliability): string =>
      x.n ? `${x.n}, ${x.mean_predicted.toFixed(3)}, ${x.observed_late.toFixed(3)}` : '0';
    return `| ${r.bin} | ${cell(r)} | ${cell(reliability.direct[k]!)} | ${cell(reliability.baseline[k]!)} |`;
  }),
  '',
  `## Cost`,
  '',
  `\`remaining()\` + \`pLate()\` per call over ${LATENCY_CALLS} calls: p50 ${latency.p50_us} µs, p99 ${latency.p99_us} µs ` +
    `(max ${latency.max_us} µs). Training the three legs and their calibration: ${trainSeconds.toFixed(0)} s; ` +
    `the whole run ${result.seconds.toFixed(0)} s.`,
  '',
  `Targets: pickup MAE ≤ half the baseline's: ${targets.pickup_mae_at_most_half_baseline ? 'met' : 'missed'}; ` +
    `coverage 0.78–0.82 at every stage: ${targets.coverage_every_stage_0_78_0_82 ? 'met' : 'missed'}; ` +
    `Brier below both baselines: ${targets.brier_below_baselines ? 'met' : 'missed'}.`,
].join('\n');
const written = writeResults(QUICK ? 'orders-quick' : 'orders', result, md, { dir: RESULTS });
log(`wrote ${written.json} and ${written.md}`);

// ------------------------------------------------------------------------------------------------------ helpers
function unwrap(r: { ok: true; value: Model } | { ok: false; error: { message: string } }): Model {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}
function rows(part: LifeSnapshot[]): TrainingData {
  const columns = LEG_FEATURE_SPEC.map(() => new Float64Array(part.length));
  const target = new Float64Array(part.length);
  part.forEach((s, k) => {
    legFeatures(s.snapshot, s.nowMs, feat);
    for (let f = 0; f < columns.length; f++) columns[f]![k] = feat[f]!;
    target[k] = s.remaining;
  });
  return { spec: LEG_FEATURE_SPEC, columns, target };
}
function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
function machineNote(): string {
  return 'Measured on 2 shared cores while other benchmarks ran: latencies are upper bounds.';
}

// The update latency runs a real process: after the accuracy figures, in the same command.
if (!process.argv.includes('--no-latency')) await import('./latency.js');
