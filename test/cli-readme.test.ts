import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';

/**
 * The README's "## Commands" section names every command of `etaserve --help`, each subcommand of its usage line
 * (`<a|b|c>`), and every required flag: a flag on a usage line of the command's own --help that is not inside
 * [brackets].
 */

// Some commands read their configuration before their help: a scratch data directory keeps the repo clean.
const dataDir = mkdtempSync(path.join(tmpdir(), 'etaserve-readme-'));
process.env.ETASERVE_DATA_DIR = dataDir;
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function help(argv: string[]): Promise<string> {
  const lines: string[] = [];
  const code = await main(argv, { log: (l) => lines.push(l), error: (l) => lines.push(l) });
  expect(code, `etaserve ${argv.join(' ')}: ${lines.join('\n')}`).toBe(0);
  return lines.join('\n');
}

function readmeCommands(): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('\n## Commands\n');
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme
    .slice(start, end < 0 ? undefined : end)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('etaserve '));
}

const withoutOptional = (line: string): string => {
  let s = line;
  for (let prev = ''; prev !== s;) [prev, s] = [s, s.replace(/\[[^[\]]*\]/g, '')];
  return s;
};

/** What `etaserve CMD --help` says must be given: subcommands and the flags outside brackets on usage lines. */
function required(command: string, text: string): { subcommands: string[]; flags: string[] } {
  const usage = new RegExp(`^\\s*(Usage:\\s+)?(etaserve\\s+)?${command}(\\s|$)`);
  const lines = text.split('\n').filter((l) => usage.test(l));
  expect(lines.length, `usage lines of ${command}`).toBeGreaterThan(0);
  const subcommands = new Set<string>();
  const flags = new Set<string>();
  for (const line of lines) {
    for (const m of line.matchAll(/<([a-z|-]+)>/g)) for (const s of m[1]!.split('|')) subcommands.add(s);
    // The usage part only: a description follows after a run of spaces.
    const spec = withoutOptional(line).split(/\s{3,}/)[0]!;
    for (const m of spec.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)) flags.add(m[0]);
  }
  return { subcommands: [...subcommands], flags: [...flags] };
}

describe('the README documents every command', () => {
  it('lists the commands of `etaserve --help`, their subcommands and their required flags', async () => {
    const top = await help(['--help']);
    const commands = [...top.slice(top.indexOf('Commands:')).matchAll(/^ {2}([a-z]+)\s{2,}/gm)].map(
      (m) => m[1]!,
    );
    expect(commands).toEqual(expect.arrayContaining(['start', 'up', 'model', 'keys', 'events']));
    const readme = readmeCommands();
    const missing: string[] = [];
    for (const command of commands) {
      const documented = readme.filter(
        (l) => l === `etaserve ${command}` || l.startsWith(`etaserve ${command} `),
      );
      if (documented.length === 0) {
        missing.push(`etaserve ${command}`);
        continue;
      }
      const words = new Set(documented.join(' ').split(/[\s|[\]<>,]+/));
      const { subcommands, flags } = required(command, await help([command, '--help']));
      for (const s of subcommands) if (!words.has(s)) missing.push(`etaserve ${command} ${s}`);
      for (const f of flags) if (!words.has(f)) missing.push(`etaserve ${command} ... ${f}`);
    }
    expect(missing).toEqual([]);
  });

  it('finds the required flags the README once left out', () => {
    const model = required(
      'model',
      'Usage: etaserve model train --train FILE --valid FILE --target COLUMN --out MODEL.json [options]',
    );
    expect(model.flags).toEqual(['--train', '--valid', '--target', '--out']);
    const events = required(
      'events',
      'Usage: etaserve events <forget|stats> [options]\n  events forget --rider ID   a rider',
    );
    expect(events).toEqual({ subcommands: ['forget', 'stats'], flags: ['--rider'] });
  });
});
