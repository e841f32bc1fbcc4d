import { promote, rollback, setChallenger, type ModelRecord, type ModelRegistry } from '../registry/index.js';
import { parseCommand } from './help.js';
import type { Output } from './output.js';

export const MODELS_USAGE = `Usage: etaserve models <list|show|promote|rollback|challenger> [VERSION] [--json] [--config FILE]

The model registry (in the catalog's database, shared by every process):
  list                 versions, newest first, with aliases and hold-out metrics
  show VERSION         one version, its metrics and the alias moves that involved it
  promote VERSION      make it the champion; predictors validate, warm and swap it in within a poll
  rollback             move the champion back to the version it replaced
  challenger VERSION   make it the challenger (shadow and canary); "challenger none" clears it`;

const min = (s: number | undefined): string => (s === undefined ? '-' : (s / 60).toFixed(2));
const pct = (v: number | undefined): string => (v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);

function line(r: ModelRecord): string {
  return [
    r.version.padEnd(6),
    (r.aliases.join(',') || '-').padEnd(20),
    r.createdAt.slice(0, 19).padEnd(20),
    min(r.metrics.mae_s).padStart(8),
    pct(r.metrics.coverage_p10_p90).padStart(8),
    ` ${r.source}`,
  ].join(' ');
}

export async function runModelsCommand(
  args: string[],
  out: Output,
  openRegistry: () => ModelRegistry,
): Promise<number> {
  const parsed = parseCommand(args, { json: { type: 'boolean' } }, MODELS_USAGE, out, true);
  if ('exit' in parsed) return parsed.exit;
  const [action, version] = parsed.positionals;
  const json = parsed.values.json === true;
  const needsVersion = action === 'show' || action === 'promote' || action === 'challenger';
  if (
    !action ||
    !['list', 'show', 'promote', 'rollback', 'challenger'].includes(action) ||
    (needsVersion && !version)
  ) {
    out.error(MODELS_USAGE);
    return 2;
  }
  const registry = openRegistry();
  const print = (value: unknown, text: string): void => out.log(json ? JSON.stringify(value, null, 2) : text);
  try {
    switch (action) {
      case 'list': {
        const records = await registry.list();
        const header = `${'VERSION'.padEnd(6)} ${'ALIASES'.padEnd(20)} ${'CREATED'.padEnd(20)} ${'MAE min'.padStart(8)} ${'p10-p90'.padStart(8)}  SOURCE`;
        print(
          records,
          records.length === 0 ? 'no models registered' : [header, ...records.map(line)].join('\n'),
        );
        return 0;
      }
      case 'show': {
        const record = await registry.get(version!);
        if (!record) {
          out.error(`no model version ${version}`);
          return 1;
        }
        const history = [
          ...(await registry.aliasHistory('champion', 200)),
          ...(await registry.aliasHistory('challenger', 200)),
        ]
          .filter((h) => h.version === record.version || h.previous === record.version)
          .sort((a, b) => b.seq - a.seq);
        const metrics = Object.entries(record.metrics).map(
          ([k, v]) => `  ${k.padEnd(20)} ${Number.isInteger(v) ? v : v.toFixed(4)}`,
        );
        const moves = history.map(
          (h) => `  ${h.at}  ${h.alias}: ${h.previous ?? '-'} -> ${h.version ?? '-'}  (${h.reason})`,
        );
        print(
          { model: record, history },
          [
            line(record),
            'metrics:',
            ...metrics,
            'alias history:',
            ...(moves.length ? moves : ['  none']),
          ].join('\n'),
        );
        return 0;
      }
      case 'promote': {
        const previous = await registry.resolve('champion');
        const record = await promote(registry, version!, 'promote (CLI)');
        print(
          { model: record, previous: previous ?? null },
          `champion: ${previous ?? '-'} -> ${record.version}`,
        );
        return 0;
      }
      case 'rollback': {
        const moved = await rollback(registry);
        print(moved, `champion rolled back: ${moved.from} -> ${moved.to}`);
        return 0;
      }
      default: {
        const target = version === 'none' ? null : version!;
        await setChallenger(registry, target);
        print({ challenger: target }, `challenger: ${target ?? 'none'}`);
        return 0;
      }
    }
  } catch (e) {
    const err = e as { code?: string; message: string };
    out.error(err.code ? `${err.code}: ${err.message}` : err.message);
    return 1;
  } finally {
    await registry.close();
  }
}
