import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  csvData,
  pipelineConfigSchema,
  runTraining,
  simulatedData,
  type PipelineConfig,
  type RunReport,
} from '../src/pipeline/index.js';
import { openModelRegistry, type SqlModelRegistry } from '../src/registry/index.js';

let dir: string;
let registry: SqlModelRegistry;
const pipeline = Value.Default(pipelineConfigSchema, { trees: 30 }) as PipelineConfig;
const data = simulatedData({ seed: 3, days: 5, stores: 25, ordersPerDay: 300, nowMs: Date.UTC(2026, 2, 1) });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'run-'));
  registry = openModelRegistry({ database: 'sqlite', sqliteFile: path.join(dir, 'etaserve.db') });
});
afterAll(async () => {
  await registry.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a training run', () => {
  it('promotes the first model and writes a self-contained report with every section', async () => {
    const lines: string[] = [];
    const run = await runTraining(data, { registry, dataDir: dir, pipeline, log: (l) => lines.push(l) });
    expect(run.promoted).toBe(true);
    expect(await registry.resolve('champion')).toBe(run.record.version);
    const report = JSON.parse(await readFile(run.reportFiles.json, 'utf8')) as RunReport;
    expect(report.champion).toBeNull();
    expect(report.maeByHour.length).toBeGreaterThan(5);
    expect(report.maeByZone.length).toBeGreaterThan(0);
    expect(report.maeByStoreDecile.map((d) => d.key)).toContain(1);
    expect(report.featureImportance[0]!.gain).toBeGreaterThan(0);
    expect(report.errorHistogram.candidate.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(report.coverage.within).toBeGreaterThan(0.5);
    const html = await readFile(run.reportFiles.html, 'utf8');
    for (const id of ['decision', 'metrics', 'errors', 'predicted-vs-actual', 'coverage', 'importance'])
      expect(html).toContain(`id="${id}"`);
    expect(html).toContain('MAE by local hour');
    expect(html).toContain('MAE by zone');
    expect(html).toContain('MAE by store decile');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|\b(src|href)="https?:/);
  });

  it('compares a new model with the champion on the same hold-out and logs the policy decision with its numbers', async () => {
    const lines: string[] = [];
    const champion = await registry.resolve('champion');
    const run = await runTraining(data, { registry, dataDir: dir, pipeline, log: (l) => lines.push(l) });
    // The same data trains the same model: not 2% better, so the champion stays and the new one is the challenger.
    expect(run.promoted).toBe(false);
    expect(await registry.resolve('champion')).toBe(champion);
    expect(await registry.resolve('challenger')).toBe(run.record.version);
    const decision = lines.find((l) => l.includes('policy decision'))!;
    // Plain wording since the promotion guard rails: minutes, "higher"/"lower"/"the same", never "-0.00% better".
    expect(decision).toMatch(
      /keep the champion: challenger v\d+ MAE \d+\.\d min vs champion v\d+ \d+\.\d min, the same \(rule: MAE at least 2\.0% lower/,
    );
    expect(decision).not.toMatch(/better/);
    expect(run.report.champion?.version).toBe(champion);
    expect(run.report.champion?.metrics.mae_s).toBeCloseTo(run.report.candidate.metrics.mae_s!, 6);
    expect(run.report.maeByHour.every((h) => h.champion_s !== null)).toBe(true);
    const html = await readFile(run.reportFiles.html, 'utf8');
    expect(html).toContain('not promoted');
    expect(html).toContain(`champion ${champion}`);
  });

  it('trains from a CSV through a column mapping', async () => {
    const header = 'id,store_lat,store_lng,dest_lat,dest_lng,date,time,minutes,kind';
    const rows = [...data.history.orders]
      .filter((o) => o.delivered_at_ms !== null)
      .map((o) => {
        const s = data.history.stores.find((x) => x.storeId === o.store_id)!;
        const t = new Date(o.created_at_ms).toISOString();
        const minutes = ((o.delivered_at_ms! - o.created_at_ms) / 60_000).toFixed(2);
        return [
          o.order_id,
          s.location.lat,
          s.location.lng,
          o.destination.lat,
          o.destination.lng,
          t.slice(0, 10),
          t.slice(11, 19),
          minutes,
          s.category,
        ].join(',');
      });
    const file = path.join(dir, 'orders.csv');
    await writeFile(file, [header, ...rows].join('\n'));
    const loaded = await csvData(file, {
      timezone: 'UTC',
      orderId: { column: 'id' },
      store: { lat: { column: 'store_lat' }, lng: { column: 'store_lng' }, category: { column: 'kind' } },
      destination: { lat: { column: 'dest_lat' }, lng: { column: 'dest_lng' } },
      createdAt: { date: 'date', time: 'time' },
      deliveredAt: { minutesAfterCreated: 'minutes' },
    });
    expect(loaded.skipped).toBe(0);
    expect(loaded.history.orders.length).toBe(rows.length);
    expect(loaded.history.stores.length).toBe(new Set([...data.history.orders].map((o) => o.store_id)).size);
    const run = await runTraining(loaded, {
      registry,
      dataDir: dir,
      pipeline,
      log: () => undefined,
      promotion: 'none',
    });
    expect(run.report.candidate.metrics.mae_s).toBeLessThan(run.report.candidate.metrics.baseline_mae_s!);
  });
});
