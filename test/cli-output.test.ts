import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runKeysCommand } from '../src/cli/keys-command.js';
import { runModelCommand } from '../src/cli/model-command.js';
import { formatTable } from '../src/cli/output.js';
import { BIN } from './support/processes.js';

const dir = mkdtempSync(path.join(tmpdir(), 'etaserve-cli-output-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { out: { log: (l: string) => void; error: (l: string) => void }; logs: string[] } {
  const logs: string[] = [];
  return { out: { log: (l) => logs.push(l), error: (l) => logs.push(l) }, logs };
}

describe('the table printer', () => {
  it('aligns columns under their headers, numbers to the right, long cells cut', () => {
    const lines = formatTable(
      [
        { id: 'a', name: 'Café de la Gare', n: 7, missing: null },
        { id: 'bbbb', name: 'x'.repeat(40), n: 1234, missing: undefined },
      ],
      [
        { key: 'id', header: 'ID' },
        { key: 'name', header: 'NAME', maxWidth: 20 },
        { key: 'n', header: 'N', align: 'right' },
        { key: 'missing', header: 'NOTE' },
      ],
    );
    expect(lines).toEqual([
      'ID    NAME                     N  NOTE',
      'a     Café de la Gare          7',
      `bbbb  ${'x'.repeat(19)}…  1234`,
    ]);
  });
});

describe('keys list', () => {
  it('has a header and shows the built-in demo key of the demo shapes', async () => {
    const previous = process.env.ETASERVE_DATA_DIR;
    process.env.ETASERVE_DATA_DIR = dir;
    try {
      const c = capture();
      expect(await runKeysCommand(['create', '--name', 'ci'], c.out)).toBe(0);
      const l = capture();
      expect(await runKeysCommand(['list'], l.out)).toBe(0);
      expect(l.logs[0]).toMatch(/^ID\s+NAME\s+KIND\s+SCOPES\s+RATE\/S\s+STATE\s+CREATED$/);
      const ci = l.logs.find((x) => /\sci\s/.test(x))!;
      expect(ci).toMatch(/\sfile\s+predict\s/);
      expect(ci.indexOf('file')).toBe(l.logs[0]!.indexOf('KIND'));
      expect(l.logs.some((x) => /^demo\s+demo key\s+built-in\s+predict,events,admin\s/.test(x))).toBe(true);
      const j = capture();
      expect(await runKeysCommand(['list', '--json'], j.out)).toBe(0);
      const rows = JSON.parse(j.logs.join('\n')) as Array<{ id: string; kind: string }>;
      expect(rows.map((r) => r.kind).sort()).toEqual(['built-in', 'file']);
    } finally {
      if (previous === undefined) delete process.env.ETASERVE_DATA_DIR;
      else process.env.ETASERVE_DATA_DIR = previous;
    }
  });
});

describe('a closed pipe', () => {
  // Runs the compiled CLI (npm run build).
  it('`etaserve model predict ... | head` ends quietly with status 0', async () => {
    const rows = (n: number, header = true): string =>
      [
        ...(header ? ['x,y'] : ['x']),
        ...Array.from({ length: n }, (_, i) => (header ? `${i % 97},${(i % 97) * 2}` : `${i % 97}`)),
      ].join('\n');
    writeFileSync(path.join(dir, 'train.csv'), rows(300));
    writeFileSync(path.join(dir, 'valid.csv'), rows(100));
    // Far more output than a pipe's buffer, so the writer meets the closed pipe.
    writeFileSync(path.join(dir, 'input.csv'), rows(300_000, false));
    const model = path.join(dir, 'm.json');
    const t = capture();
    const train = ['train', '--train', path.join(dir, 'train.csv'), '--valid', path.join(dir, 'valid.csv')];
    expect(await runModelCommand([...train, '--target', 'y', '--trees', '5', '--out', model], t.out)).toBe(0);

    const r = spawnSync(
      'bash',
      [
        '-c',
        'set -o pipefail; node "$0" model predict --model "$1" --input "$2" | head -n 2',
        BIN,
        model,
        path.join(dir, 'input.csv'),
      ],
      { encoding: 'utf8' },
    );
    expect(r.stdout.split('\n')[0]).toBe('p50');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);
});
