import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runModelCommand } from './model-command.js';

const dir = mkdtempSync(join(tmpdir(), 'etaserve-model-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** minutes = 3·km + zone effect (+12 when load is unknown) + noise; zone is a label column. */
function writeCsv(file: string, n: number, seed: number, withTarget = true): void {
  let s = seed;
  const r = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const zones = { north: 0, south: 6, east: -3 } as const;
  const names = Object.keys(zones) as Array<keyof typeof zones>;
  const lines = [withTarget ? 'zone,minutes,km,load' : 'load,zone,km'];
  for (let i = 0; i < n; i++) {
    const km = (r() * 10).toFixed(2);
    const load = r() < 0.2 ? '' : (r() * 5).toFixed(1);
    const zone = names[Math.floor(r() * 3)]!;
    const y = 3 * Number(km) + zones[zone] + (load === '' ? 12 : Number(load)) + r();
    lines.push(withTarget ? `${zone},${y.toFixed(2)},${km},${load}` : `${load},${zone},${km}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

function capture(): {
  out: { log: (l: string) => void; error: (l: string) => void };
  logs: string[];
  errors: string[];
} {
  const logs: string[] = [];
  const errors: string[] = [];
  return { out: { log: (l) => logs.push(l), error: (l) => errors.push(l) }, logs, errors };
}

const f = (name: string) => join(dir, name);
writeCsv(f('train.csv'), 1500, 1);
writeCsv(f('valid.csv'), 400, 2);
writeCsv(f('input.csv'), 20, 3, false);

describe('etaserve model', () => {
  it('trains quantiles with progress, predicts only the prediction columns, inspects', async () => {
    const t = capture();
    const args = ['train', '--train', f('train.csv'), '--valid', f('valid.csv'), '--target', 'minutes'];
    const code = await runModelCommand(
      [
        ...args,
        '--objective',
        'quantile',
        '--categorical',
        'zone',
        '--trees',
        '60',
        '--lr',
        '0.2',
        '--out',
        f('m.json'),
      ],
      t.out,
    );
    expect(t.errors).toEqual([]);
    expect(code).toBe(0);
    expect(t.logs.some((l) => /^p10 iteration 0: train [\d.]+ valid [\d.]+/.test(l))).toBe(true);
    expect(t.logs.some((l) => l.startsWith('calibrated p10-p90'))).toBe(true);
    const artifact = JSON.parse(readFileSync(f('m.json'), 'utf8'));
    expect(artifact.spec.find((s: { name: string }) => s.name === 'zone').categories.length).toBe(3);

    const p = capture();
    expect(
      await runModelCommand(
        ['predict', '--model', f('m.json'), '--input', f('input.csv'), '--out', f('p.csv')],
        p.out,
      ),
    ).toBe(0);
    const rows = readFileSync(f('p.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('p10,p50,p90');
    expect(rows.length).toBe(21);
    for (const row of rows.slice(1)) {
      const [lo, mid, hi] = row.split(',').map(Number);
      expect(lo!).toBeLessThanOrEqual(hi!);
      expect(Number.isFinite(mid)).toBe(true);
    }

    const i = capture();
    expect(await runModelCommand(['inspect', f('m.json')], i.out)).toBe(0);
    expect(i.logs.join('\n')).toMatch(/outputs: p10 .* p50 .* p90/);
    // The features table: a header, then aligned rows (every column starts where its header does).
    const header = i.logs.find((l) => l.startsWith('FEATURE'))!;
    expect(header).toMatch(/^FEATURE\s+TYPE\s+CATEGORIES\s+GAIN_%\s+SPLITS$/);
    const km = i.logs.find((l) => /^km\s+numeric\s/.test(l))!;
    expect(km.indexOf('numeric')).toBe(header.indexOf('TYPE'));
    expect(km.length).toBe(header.length); // right-aligned numbers end under their header

    const j = capture();
    expect(await runModelCommand(['inspect', f('m.json'), '--json'], j.out)).toBe(0);
    const doc = JSON.parse(j.logs.join('\n')) as {
      features: Array<{ feature: string; gainPercent: number }>;
    };
    expect(doc.features.map((x) => x.feature)).toContain('km');
  });

  it('trains squared error by default and writes p50', async () => {
    const t = capture();
    const args = ['train', '--train', f('train.csv'), '--valid', f('valid.csv'), '--target', 'minutes'];
    expect(
      await runModelCommand(
        [...args, '--categorical', 'zone', '--trees', '40', '--lr', '0.3', '--out', f('s.json')],
        t.out,
      ),
    ).toBe(0);
    const p = capture();
    expect(await runModelCommand(['predict', '--model', f('s.json'), '--input', f('input.csv')], p.out)).toBe(
      0,
    );
    expect(p.logs[0]).toBe('p50');
    expect(p.logs.length).toBe(21);
  });

  it('names missing input columns and bad rows', async () => {
    writeFileSync(f('partial.csv'), 'km\n1.5\n');
    const p = capture();
    expect(
      await runModelCommand(['predict', '--model', f('s.json'), '--input', f('partial.csv')], p.out),
    ).toBe(2);
    expect(p.errors[0]).toMatch(/missing columns load, zone|missing columns zone, load/);
    writeFileSync(f('bad.csv'), 'zone,minutes,km,load\nnorth,10,1,2\nnorth,11,abc,2\nsouth,12,1\n');
    const b = capture();
    const code = await runModelCommand(
      [
        'train',
        '--train',
        f('bad.csv'),
        '--valid',
        f('valid.csv'),
        '--target',
        'minutes',
        '--out',
        f('x.json'),
      ],
      b.out,
    );
    expect(code).toBe(1);
    expect(b.errors[0]).toMatch(/bad\.csv:4: expected 4 cells, found 3/);
  });

  it("calibrates per segment with --segment-column and predicts each row with its segment's range", async () => {
    // A label column: the storm zone got noisier after the training period (sd 2, then 5), which the trees
    // cannot know and the calibration on the later validation file can.
    const zonal = (file: string, n: number, seed: number, stormNoise: number): void => {
      let s = seed;
      const r = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
      const noise = { calm: 1, usual: 2, storm: stormNoise } as const;
      const lines = ['km,zone,minutes'];
      for (let i = 0; i < n; i++) {
        const km = r() * 10;
        const u = r();
        const zone = u < 0.35 ? 'calm' : u < 0.7 ? 'usual' : 'storm';
        const gauss = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
        lines.push(`${km.toFixed(2)},${zone},${(10 + 3 * km + noise[zone] * gauss).toFixed(2)}`);
      }
      writeFileSync(file, lines.join('\n') + '\n');
    };
    zonal(f('z-train.csv'), 3000, 11, 2);
    zonal(f('z-valid.csv'), 3000, 12, 5);
    zonal(f('z-test.csv'), 6000, 13, 5);
    const base = ['train', '--train', f('z-train.csv'), '--valid', f('z-valid.csv'), '--target', 'minutes'];
    const quantile = ['--objective', 'quantile', '--trees', '60', '--lr', '0.2'];
    const t = capture();
    expect(
      await runModelCommand([...base, ...quantile, '--segment-column', 'zone', '--out', f('z.json')], t.out),
    ).toBe(0);
    expect(t.errors).toEqual([]);
    expect(t.logs.some((l) => /^segments by zone: 3 cells, 3 with their own factor/.test(l))).toBe(true);
    const pooledRun = capture();
    expect(
      await runModelCommand(
        [...base, ...quantile, '--categorical', 'zone', '--out', f('zp.json')],
        pooledRun.out,
      ),
    ).toBe(0);

    /** Coverage and mean width of p10-p90 per zone on the test file, rows ordered p10 <= p50 <= p90. */
    const byZone = async (model: string): Promise<Record<string, { coverage: number; width: number }>> => {
      const p = capture();
      expect(
        await runModelCommand(
          ['predict', '--model', model, '--input', f('z-test.csv'), '--out', f('zp.csv')],
          p.out,
        ),
      ).toBe(0);
      const pred = readFileSync(f('zp.csv'), 'utf8').trim().split('\n');
      expect(pred[0]).toBe('p10,p50,p90');
      const test = readFileSync(f('z-test.csv'), 'utf8').trim().split('\n').slice(1);
      const acc: Record<string, { coverage: number; width: number; n: number }> = {};
      test.forEach((line, i) => {
        const [, zone, y] = line.split(',');
        const [lo, mid, hi] = pred[i + 1]!.split(',').map(Number);
        expect(lo! <= mid! && mid! <= hi!).toBe(true);
        const e = (acc[zone!] ??= { coverage: 0, width: 0, n: 0 });
        e.n++;
        if (Number(y) >= lo! && Number(y) <= hi!) e.coverage++;
        e.width += hi! - lo!;
      });
      return Object.fromEntries(
        Object.entries(acc).map(([z, e]) => [z, { coverage: e.coverage / e.n, width: e.width / e.n }]),
      );
    };
    const pooled = await byZone(f('zp.json'));
    const zoned = await byZone(f('z.json'));
    // Measured: pooled 0.93 / 0.90 / 0.50 (calm / usual / storm), per zone 0.77 / 0.80 / 0.78.
    expect(pooled.storm!.coverage).toBeLessThan(0.6);
    expect(pooled.calm!.coverage).toBeGreaterThan(0.88);
    for (const z of ['calm', 'usual', 'storm']) {
      expect(zoned[z]!.coverage, z).toBeGreaterThan(0.75);
      expect(zoned[z]!.coverage, z).toBeLessThan(0.85);
    }
    expect(zoned.storm!.width).toBeGreaterThan(1.5 * pooled.storm!.width);
    expect(zoned.calm!.width).toBeLessThan(0.8 * pooled.calm!.width);

    const i = capture();
    expect(await runModelCommand(['inspect', f('z.json')], i.out)).toBe(0);
    expect(i.logs.find((l) => l.startsWith('SEGMENT (zone)'))).toMatch(
      /^SEGMENT \(zone\)\s+VALID_ROWS\s+FACTOR_FROM\s+FACTOR\s+COVERAGE_POOLED\s+COVERAGE$/,
    );
    expect(i.logs.some((l) => /^storm\s+\d+\s+own\s+[\d.]+/.test(l))).toBe(true);

    // The model needs the segment column; the objective must be a calibrated non-crossing quantile one.
    writeFileSync(f('z-nozone.csv'), 'km\n1.5\n');
    const m = capture();
    expect(
      await runModelCommand(['predict', '--model', f('z.json'), '--input', f('z-nozone.csv')], m.out),
    ).toBe(2);
    expect(m.errors[0]).toMatch(/z-nozone\.csv: missing column zone/);
    const bad = capture();
    expect(await runModelCommand([...base, '--segment-column', 'zone', '--out', f('x.json')], bad.out)).toBe(
      2,
    );
    expect(bad.errors[0]).toMatch(/--segment-column needs --objective quantile/);
  });

  it('prints help for each subcommand', async () => {
    for (const sub of ['train', 'predict', 'inspect']) {
      const h = capture();
      expect(await runModelCommand([sub, '--help'], h.out)).toBe(0);
      expect(h.logs[0]).toMatch(new RegExp(`^Usage: etaserve model ${sub}`));
    }
  });
});
