import { beforeAll, describe, expect, it } from 'vitest';
import { trainFromHistory, type TrainedModel } from '../src/pipeline/index.js';
import { createMetrics, type Logger } from '../src/platform/index.js';
import { DriftMonitor, type DriftReport } from '../src/predictor/drift.js';
import type { FeatureProfile } from '../src/registry/index.js';
import type { CalibratedProfile } from '../src/pipeline/training/profile.js';
import { generateHistory, type SimulatedHistory } from '../src/simulator/index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const WIDTH = 12;

/** A logger that keeps what it is told, so a test can count the warnings. */
function recordingLogger(): Logger & { warnings: unknown[][]; infos: unknown[][] } {
  const warnings: unknown[][] = [];
  const infos: unknown[][] = [];
  const logger = {
    warnings,
    infos,
    warn: (...a: unknown[]) => void warnings.push(a),
    info: (...a: unknown[]) => void infos.push(a),
    error: () => {},
    debug: () => {},
    trace: () => {},
    fatal: () => {},
    child: () => logger,
  };
  return logger as unknown as Logger & { warnings: unknown[][]; infos: unknown[][] };
}

interface Replay {
  reports: DriftReport[];
  warnings: unknown[][];
}

/**
 * Feeds the rows of [fromMs, toMs) to the production monitor in time order on a simulated clock (the rows' own
 * creation times) and judges the window every simulated minute, as the predictor's timer does.
 */
function replay(
  trained: TrainedModel,
  profile: FeatureProfile,
  fromMs: number,
  toMs: number,
  edit?: (row: Float64Array, r: number) => void,
  minRows = 500,
): Replay {
  const { table } = trained;
  let clock = fromMs;
  const logger = recordingLogger();
  const monitor = new DriftMonitor(
    { threshold: 0.25, minRows, intervalMs: MINUTE, windowMs: HOUR, now: () => clock },
    createMetrics(),
    logger,
  );
  monitor.setProfile(profile);
  const reports: DriftReport[] = [];
  const row = new Float64Array(WIDTH);
  let r = 0;
  while (r < table.nRows && table.createdAtMs[r]! < fromMs) r++;
  for (let minute = fromMs + MINUTE; minute <= toMs; minute += MINUTE) {
    for (; r < table.nRows && table.createdAtMs[r]! < minute; r++) {
      clock = table.createdAtMs[r]!;
      for (let f = 0; f < WIDTH; f++) row[f] = table.columns[f]![r]!;
      edit?.(row, r);
      monitor.observe(row, 1);
    }
    clock = minute;
    reports.push(monitor.evaluate()!);
  }
  return { reports, warnings: logger.warnings };
}

let history: SimulatedHistory;
let trained: TrainedModel;

beforeAll(async () => {
  history = generateHistory({
    seed: 11,
    days: 28,
    stores: 40,
    ordersPerDay: 3000,
    startMs: Date.UTC(2026, 0, 5),
  });
  trained = await trainFromHistory(history, { params: { nTrees: 5, calibrate: false } });
}, 120_000);

const STABLE = [
  'distance_km',
  'travel_estimate_s',
  'store_category',
  'prep_mean_s',
  'items',
  'subtotal',
  'zone_speed_kmh',
];

/** Live state at the time of the order: swings from day to day more than the traffic mix. */
const LIVE_STATE = ['riders_available', 'orders_in_kitchen', 'prep_ewma_s'];

function worstPsi(reports: DriftReport[]): Map<string, number> {
  const worst = new Map<string, number>();
  for (const rep of reports)
    for (const [n, f] of Object.entries(rep.features))
      if (f.psi !== null) worst.set(n, Math.max(worst.get(n) ?? 0, f.psi));
  return worst;
}

describe('drift against the training rows of the same hours', () => {
  const days = (n: number): [number, number] => [trained.validEndMs, trained.validEndMs + n * 24 * HOUR];

  it('reproduces the false alarm with the old all-hours comparison, and says which basis it used', () => {
    const { rows, features } = trained.profile;
    const old = replay(trained, { rows, features }, ...days(3));
    const worst = worstPsi(old.reports);
    expect(old.reports.every((r) => r.basis === 'all_hours' && r.not_compared.length === 0)).toBe(true);
    // The figures: a window of a few hours against every hour of the week.
    expect(worst.get('hour_local')).toBeGreaterThan(5);
    expect(worst.get('weekday_local')).toBeGreaterThan(5);
    expect(worst.get('zone_speed_kmh')).toBeGreaterThan(2);
  });

  it('matches hours: time features are the key, not compared; traffic-mix features stay ok over three days', () => {
    const run = replay(trained, trained.profile, ...days(3));
    expect(run.reports.every((r) => r.basis === 'hour_of_week')).toBe(true);
    expect(run.reports[0]!.not_compared).toEqual(['hour_local', 'weekday_local']);
    const worst = worstPsi(run.reports);
    for (const f of STABLE) expect(worst.get(f), f).toBeLessThan(0.25);
    expect(worst.has('hour_local')).toBe(false);
  });

  it('calibrates each feature on its training days: unchanged traffic raises no alarm on any feature', () => {
    const calibration = (trained.profile as CalibratedProfile).driftCalibration!;
    expect(calibration.windows).toBeGreaterThan(50);
    // The traffic-mix features keep the textbook line; the live-state ones get what their training days showed.
    for (const f of STABLE) expect(calibration.thresholds[f], f).toBe(0.25);
    for (const f of LIVE_STATE) expect(calibration.thresholds[f], f).toBeGreaterThan(0.25);
    const run = replay(trained, trained.profile, ...days(3));
    expect(run.reports.every((r) => r.calibrated)).toBe(true);
    const judged = run.reports.filter((r) => r.state !== 'insufficient');
    expect(judged.length).toBeGreaterThan(60);
    for (const r of judged) {
      expect(r.state, new Date(r.at_ms).toISOString()).toBe('ok');
      for (const [name, f] of Object.entries(r.features))
        expect(f.status, `${name} ${f.psi} > ${f.threshold}`).toBe('ok');
    }
    expect(run.warnings).toEqual([]);
  });

  it('shows no figure below the sample minimum: insufficient, never red', () => {
    const run = replay(trained, trained.profile, ...days(1));
    const thin = run.reports.filter((r) => r.rows < 500);
    expect(thin.length).toBeGreaterThan(0);
    for (const r of thin)
      for (const f of Object.values(r.features)) {
        expect(f).toMatchObject({ psi: null, status: 'insufficient', min_samples: 500 });
        expect(f.samples).toBe(r.rows - r.reference.uncovered);
      }
  });

  it('logs once per change of verdict, not every minute', () => {
    const run = replay(trained, trained.profile, ...days(3));
    let entries = 0;
    for (let i = 0; i < run.reports.length; i++)
      if (run.reports[i]!.state === 'drift' && run.reports[i - 1]?.state !== 'drift') entries++;
    expect(run.warnings.length).toBe(entries);
    expect(run.warnings.length).toBeLessThan(run.reports.filter((r) => r.state === 'drift').length + 1);
  });
});
