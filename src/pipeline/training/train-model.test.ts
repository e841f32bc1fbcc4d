import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSpeedsFile } from '../../geo/index.js';
import { FEATURE_NAMES } from '../../features/index.js';
import { loadModel } from '../../model/index.js';
import { InMemoryModelRegistry, openModelRegistry } from '../../registry/index.js';
import { generateHistory } from '../../simulator/index.js';
import { ensureChampion } from './ensure-champion.js';
import { registerTrained, trainFromHistory } from './train-model.js';

describe('training from simulated history', () => {
  it('trains p10/p50/p90 on a time-ordered split, beats the naive quote and registers the champion', async () => {
    const history = generateHistory({
      seed: 5,
      days: 6,
      stores: 30,
      ordersPerDay: 300,
      startMs: Date.UTC(2026, 0, 5),
    });
    const stages: string[] = [];
    const trained = await trainFromHistory(history, {
      params: { nTrees: 40, calibrate: false },
      onProgress: (p) => stages.push(p.stage),
    });
    expect(trained.trainEndMs).toBeLessThan(trained.validEndMs);
    expect(new Set(stages)).toEqual(new Set(['speeds', 'features', 'train', 'evaluate']));
    const m = trained.metrics;
    expect(m.n_train! + m.n_valid! + m.n_test!).toBe(
      [...history.orders].filter((o) => o.delivered_at_ms !== null).length,
    );
    expect(m.mae_s).toBeLessThan(m.baseline_mae_s!);
    expect(m.coverage_p10_p90).toBeGreaterThan(0.5);
    const model = loadModel(trained.artifact);
    expect(model.ok && model.value.outputNames).toEqual(['p10', 'p50', 'p90']);

    const registry = new InMemoryModelRegistry();
    const first = await registerTrained(registry, trained, 'simulated');
    expect(first.aliases).toEqual(['champion']);
    const second = await registerTrained(registry, trained, 'simulated');
    expect(second.aliases).toEqual([]);
    expect(await registry.resolve('champion')).toBe(first.version);
  });

  it('answers about as it would when the rider count is unknown (a rider feed down), never past the plausible', async () => {
    const history = generateHistory({
      seed: 5,
      days: 10,
      stores: 60,
      ordersPerDay: 800,
      startMs: Date.UTC(2026, 0, 5),
    });
    const trained = await trainFromHistory(history, { params: { nTrees: 80 } });
    const loaded = loadModel(trained.artifact);
    if (!loaded.ok) throw loaded.error;
    const model = loaded.value;
    const riders = FEATURE_NAMES.indexOf('riders_available');
    const travel = FEATURE_NAMES.indexOf('travel_estimate_s');
    const { table } = trained;
    const out = new Float64Array(model.outputNames.length);
    let shift = 0;
    let known = 0;
    for (let r = trained.nValid; r < table.nRows; r++) {
      const row = Float64Array.from(table.columns, (c) => c[r]!);
      if (Number.isNaN(row[riders]!)) continue;
      const withRiders = model.predict(row, out)[1]!;
      row[riders] = Number.NaN;
      const [p10, p50] = model.predict(row, out);
      expect(p10!).toBeGreaterThan(0);
      expect(p50!).toBeGreaterThanOrEqual(row[travel]!);
      shift += Math.abs(p50! - withRiders) / withRiders;
      known++;
    }
    expect(known).toBeGreaterThan(500);
    // Trained on counts alone, medians moved 39% on average once the count was hidden; 10% with 2% of rows lacking it.
    expect(shift / known).toBeLessThan(0.2);
  }, 120_000);

  it('ensureChampion trains once, writes the zone speeds, and returns the city’s stores', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'ensure-'));
    try {
      const registry = openModelRegistry({
        database: 'sqlite',
        sqliteFile: path.join(dataDir, 'etaserve.db'),
      });
      const lines: string[] = [];
      const options = {
        dataDir,
        registry,
        log: (m: string) => lines.push(m),
        simulator: { days: 4, stores: 20, ordersPerDay: 250 },
        pipeline: { trees: 15 },
      };
      const first = await ensureChampion(options);
      expect(first.trained).toBe(true);
      expect(first.record.aliases).toEqual(['champion']);
      expect(first.stores).toHaveLength(20);
      expect(first.speedsFile).toBe(defaultSpeedsFile(dataDir));
      expect(JSON.parse(await readFile(first.speedsFile, 'utf8')).format).toBe('etaserve.zone-speeds');
      expect(lines.some((l) => l.includes('registered v1'))).toBe(true);
      const again = await ensureChampion(options);
      expect(again.trained).toBe(false);
      expect(again.record.version).toBe('v1');
      expect(again.stores).toEqual(first.stores);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
