import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSimulateCommand } from '../src/cli/simulate-command.js';
import { runStoresCommand } from '../src/cli/stores-command.js';
import { generateHistory } from '../src/simulator/index.js';
import { openSqliteCatalog } from '../src/store/index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-round-trip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('what the CLI writes, it reads back', () => {
  it('simulate -> stores import imports every store, unchanged', async () => {
    const out = path.join(dir, 'city');
    const lines: string[] = [];
    const io = { log: (s: string) => lines.push(s), error: (s: string) => lines.push(s) };
    const args = ['--out', out, '--days', '1', '--stores', '20', '--orders-per-day', '50', '--seed', '7'];
    expect(await runSimulateCommand(args, io)).toBe(0);

    const dbFile = path.join(dir, 'catalog.db');
    const openCatalog = () => openSqliteCatalog(dbFile, { maxPageSize: 500 });
    lines.length = 0;
    expect(await runStoresCommand(['import', path.join(out, 'stores.jsonl')], { openCatalog, ...io })).toBe(
      0,
    );
    expect(lines).toEqual(['imported 20 stores (20 new, 0 updated), refused 0']);

    // Field for field what the simulator made (the seed fixes the city).
    const simulated = generateHistory({ seed: 7, days: 1, stores: 20, ordersPerDay: 50, startMs: 0 }).stores;
    const catalog = await openCatalog();
    try {
      for (const s of simulated) {
        const { createdAt: _c, updatedAt: _u, ...stored } = (await catalog.get(s.storeId))!;
        expect(stored).toEqual(s);
      }
    } finally {
      await catalog.close();
    }
  });
});
