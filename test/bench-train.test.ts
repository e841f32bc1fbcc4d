/**
 * `npm run bench:train -- --quick` proves the harness works: a small simulated city trained twice, once simulated in
 * the training process and once ingested into the event log first, each run's peak memory recorded. No timing or
 * memory assertions here: the numbers live in bench/results. Needs the compiled CLI (`npx tsc -p tsconfig.build.json`).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-bench-train-test-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run bench:train --quick', () => {
  it('trains the same history from the simulator and from the event log, and records each run', async () => {
    const { stdout } = await exec(
      process.execPath,
      ['--import', 'tsx', 'bench/train/run.ts', '--quick', '--results-dir', dir],
      { cwd: ROOT, maxBuffer: 16 << 20, timeout: 170_000 },
    );
    const json = readdirSync(dir).find((f) => /^train-quick-\d{4}-\d{2}-\d{2}\.json$/.test(f));
    expect(json, stdout).toBeDefined();
    const report = JSON.parse(readFileSync(path.join(dir, json!), 'utf8')) as {
      cases: Array<{ source: string; orders: number; peakRssMb: number; stages: Array<{ stage: string }> }>;
    };
    expect(report.cases.map((c) => c.source)).toEqual(['simulated', 'log']);
    const [simulated, log] = report.cases;
    expect(simulated!.orders).toBeGreaterThan(1000);
    expect(log!.orders).toBe(simulated!.orders);
    for (const c of report.cases) {
      expect(c.peakRssMb).toBeGreaterThan(0);
      expect(c.stages.map((s) => s.stage)).toContain('features');
    }
    expect(log!.stages.map((s) => s.stage)).toContain('compact');
    expect(readFileSync(path.join(dir, json!.replace(/\.json$/, '.md')), 'utf8')).toContain('peak RSS');
  }, 180_000);
});
