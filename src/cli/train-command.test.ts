import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSimulateCommand } from './simulate-command.js';
import { openModelRegistry } from '../registry/index.js';
import { runTrainCommand } from './train-command.js';

let dir: string;
let lines: string[];
let errors: string[];
const out = () => ({ log: (l: string) => lines.push(l), error: (l: string) => errors.push(l) });

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cli-'));
  lines = [];
  errors = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('etaserve simulate', () => {
  it('writes the three files', async () => {
    const rc = await runSimulateCommand(
      ['--days', '2', '--stores', '10', '--orders-per-day', '100', '--out', dir],
      out(),
    );
    expect(rc).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['orders.csv', 'rider_pings.csv', 'stores.jsonl']);
    expect(lines[0]).toMatch(/wrote 10 stores/);
  });

  it('refuses a bad flag with exit code 2 and says why', async () => {
    expect(await runSimulateCommand(['--days', 'x', '--out', dir], out())).toBe(2);
    expect(errors[0]).toContain('--days');
    expect(await runSimulateCommand(['--days', '2'], out())).toBe(2);
    expect(errors[1]).toContain('--out');
  });
});

describe('etaserve train', () => {
  it('simulates, trains, registers the champion, writes the report and prints the metrics', async () => {
    const rc = await runTrainCommand(
      ['--days', '3', '--stores', '15', '--orders-per-day', '200', '--trees', '10'],
      { ...out(), dataDir: dir },
    );
    expect(rc).toBe(0);
    expect(lines.some((l) => l.includes('registered v1 (champion)'))).toBe(true);
    // A human summary ends the run (JSON only with --json).
    expect(lines.find((l) => l.startsWith('version'))).toMatch(/v1 \(champion\)/);
    expect(lines.find((l) => l.startsWith('MAE'))).toMatch(/^MAE\s+\d+\.\d min/);
    expect(lines.find((l) => l.startsWith('promoted'))).toMatch(/yes: promote: there is no champion/);
    expect(() => JSON.parse(lines[lines.length - 1]!)).toThrow();
    const registry = openModelRegistry({ database: 'sqlite', sqliteFile: path.join(dir, 'etaserve.db') });
    expect(await registry.resolve('champion')).toBe('v1');
    await registry.close();
    expect(await readdir(path.join(dir, 'geo'))).toEqual(['zone-speeds.json']);
    const [run] = await readdir(path.join(dir, 'reports'));
    expect((await readdir(path.join(dir, 'reports', run!))).sort()).toEqual(['report.html', 'report.json']);
    expect(await readFile(path.join(dir, 'reports', run!, 'report.html'), 'utf8')).toContain('<svg');
  });

  it('refuses --csv without --mapping', async () => {
    expect(await runTrainCommand(['--csv', 'x.csv'], { ...out(), dataDir: dir })).toBe(2);
    expect(errors[0]).toContain('--mapping');
  });
});

describe('etaserve train --from --to', () => {
  it('compacts the event log into the lake and trains on the window through the SQL ETL', async () => {
    const { generateHistory } = await import('../simulator/index.js');
    const { historyToEvents } = await import('../pipeline/index.js');
    const start = Date.UTC(2026, 0, 5);
    const history = generateHistory({ seed: 4, days: 4, stores: 15, ordersPerDay: 300, startMs: start });
    const records = historyToEvents(history).map((e, i) => ({
      offset: String(i),
      event: {
        event_id: e.event_id,
        type: e.type,
        occurred_at: new Date(e.occurred_ms).toISOString(),
        ...(e.order_id ? { order_id: e.order_id, store_id: e.store_id } : {}),
        ...(e.rider_id ? { rider_id: e.rider_id } : {}),
        ...(e.dest_lat !== null
          ? { destination: { lat: e.dest_lat, lng: e.dest_lng }, items: e.items, subtotal: e.subtotal }
          : {}),
        ...(e.lat !== null ? { lat: e.lat, lng: e.lng, available: e.available } : {}),
      },
    }));
    const log = {
      async read(from: string | 'earliest' | { offset: string }, max: number) {
        const at = from === 'earliest' ? 0 : Number((from as { offset: string }).offset);
        const page = records.slice(at, at + max);
        return { records: page, next: String(at + page.length) };
      },
      async close() {},
    };
    const rc = await runTrainCommand(
      [
        '--from',
        new Date(start + 86_400_000).toISOString(),
        '--to',
        new Date(start + 4 * 86_400_000).toISOString(),
        '--trees',
        '20',
      ],
      { ...out(), dataDir: dir, loadStores: async () => history.stores, openEventLog: async () => log },
    );
    expect(errors).toEqual([]);
    expect(rc).toBe(0);
    expect(lines.some((l) => l.includes(`compacted ${records.length} events`))).toBe(true);
    expect(lines.some((l) => /read \d+ orders from parquet:lake:2026-01-06/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes('registered v1 (champion)'))).toBe(true);
    expect(
      (await readdir(path.join(dir, 'lake', 'events'))).some((d) => d.startsWith('date=2026-01-0')),
    ).toBe(true);
  });
});
