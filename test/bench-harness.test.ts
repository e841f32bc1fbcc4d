/**
 * `npm run bench:peak -- --quick` proves the harness works: it starts embedded `etaserve start`, drives
 * POST /v1/eta with the realistic mix and writes a results JSON and summary. No timing assertions here: the numbers
 * live in bench/results. Needs the compiled CLI (`npx tsc -p tsconfig.build.json`), like the end-to-end suite.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const PEER = path.join(ROOT, '..', 'shared', 'peers', 'fastapi-xgboost');
const dirs: string[] = [];

async function peak(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      ['--import', 'tsx', 'bench/peak/run.ts', ...args],
      {
        cwd: ROOT,
        maxBuffer: 16 << 20,
        timeout: 170_000,
      },
    );
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : 1,
      out: `${err.stdout ?? ''}${err.stderr ?? ''}`,
    };
  }
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('npm run bench:peak --quick', () => {
  it('runs scenario 2 against embedded etaserve and writes its results', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-bench-peak-'));
    dirs.push(dir);
    const { code, out } = await peak('--quick', '--only', '2', '--no-search', '--results-dir', dir);
    expect(code, out).toBe(0);

    const json = readdirSync(dir).find((f) => /^peak-quick-\d{4}-\d{2}-\d{2}\.json$/.test(f));
    expect(json, `results in ${readdirSync(dir).join(', ')}`).toBeDefined();
    const report = JSON.parse(readFileSync(path.join(dir, json!), 'utf8'));
    expect(report.quick).toBe(true);
    expect(report.platform.ran).toEqual([2]);
    const session = report.platform.sessions.find((s: { shape: string }) => s.shape === 'embedded');
    expect(session.status, session.reason).toBe('ok');
    expect(session.stores).toBeGreaterThan(0);
    expect(session.peakRssMb.embedded).toBeGreaterThan(0);

    const run = session.runs.find((r: { endpoint: string }) => r.endpoint === 'eta');
    expect(run.fixed.length).toBeGreaterThan(0);
    const r = run.fixed[0].result;
    expect(r.scheduled).toBeGreaterThan(0);
    expect(r.ok).toBeGreaterThan(0);
    for (const k of ['non2xx', 'errors', 'timeouts']) expect(typeof r[k]).toBe('number');
    for (const k of ['p50', 'p95', 'p99', 'max']) expect(r.latency[k]).toBeGreaterThan(0);
    expect(r.usage.embedded.cpuMsPerRequest).toBeGreaterThanOrEqual(0);

    const verdicts = report.platform.verdicts['2'];
    expect(verdicts.map((v: { status: string }) => v.status)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^(PASS|MISS|PENDING)$/)]),
    );
    const md = readFileSync(path.join(dir, json!.replace(/\.json$/, '.md')), 'utf8');
    expect(md).toContain('Scenario 2');
    // Paths of the machine never land in a result.
    expect(readFileSync(path.join(dir, json!), 'utf8')).not.toContain(ROOT);
  }, 180_000);

  it.runIf(!existsSync(PEER))(
    'skips scenario 1 with a clear message where ../shared is missing',
    async () => {
      const { code, out } = await peak('--quick', '--only', '1', '--no-write');
      expect(code, out).toBe(0);
      expect(out).toContain('skipped: the peer (../shared/peers/fastapi-xgboost) is not on this machine');
    },
  );
});
