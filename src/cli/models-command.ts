import { Value } from 'typebox/value';
import {
  auditedRollback,
  describeComparison,
  guardedPromote,
  guardedSetChallenger,
  policyConfigSchema,
  type PolicyConfig,
} from '../pipeline/index.js';
import type { ModelRecord, ModelRegistry } from '../registry/index.js';
import { parseCommand } from './help.js';
import { formatTable, type Column, type Output } from './output.js';

export const MODELS_USAGE = `Usage: etaserve models <list|show|promote|rollback|challenger|audit> [VERSION] [--json] [--config FILE]

The model registry (in the catalog's database, shared by every process):
  list                 versions, newest first, with aliases and hold-out metrics
  show VERSION         one version, its metrics and the alias moves that involved it
  promote VERSION      make it the champion; predictors validate, warm and swap it in within a poll.
                       The policy compares it with the champion on the same recent orders and refuses a worse
                       one, or one with other features or from another city, unless forced:
    --force --reason TEXT   promote anyway; the reason goes into the audit log
  rollback             move the champion back to the version it replaced
  challenger VERSION   make it the challenger (shadow and canary); "challenger none" clears it
  audit [--limit N]    promotions, rollbacks, refusals and retention deletions, newest first`;

const min = (s: number | undefined): string => (s === undefined ? '-' : (s / 60).toFixed(2));
const pct = (v: number | undefined): string => (v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);

const MODEL_COLUMNS: Column[] = [
  { key: 'version', header: 'VERSION' },
  { key: 'aliases', header: 'ALIASES', format: (v) => (v as string[]).join(',') || '-' },
  { key: 'createdAt', header: 'CREATED', format: (v) => String(v).slice(0, 19) },
  {
    key: 'metrics',
    header: 'MAE min',
    align: 'right',
    format: (m) => min((m as ModelRecord['metrics']).mae_s),
  },
  {
    key: 'metrics',
    header: 'p10-p90',
    align: 'right',
    format: (m) => pct((m as ModelRecord['metrics']).coverage_p10_p90),
  },
  { key: 'source', header: 'SOURCE', maxWidth: 70 },
];

const AUDIT_COLUMNS: Column[] = [
  { key: 'at', header: 'AT', format: (v) => String(v).slice(0, 19) },
  { key: 'action', header: 'ACTION' },
  { key: 'version', header: 'VERSION', format: (v) => (v as string | null) ?? '-' },
  { key: 'previous', header: 'PREVIOUS', format: (v) => (v as string | null) ?? '-' },
  { key: 'actor', header: 'ACTOR' },
  { key: 'forced', header: 'FORCED', format: (v) => (v ? 'yes' : 'no') },
  { key: 'reason', header: 'REASON', maxWidth: 40, format: (v) => (v as string | null) ?? '-' },
  { key: 'summary', header: 'SUMMARY', maxWidth: 120 },
];

const table = (rows: object[], columns: Column[]): string =>
  formatTable(rows as Record<string, unknown>[], columns).join('\n');

export async function runModelsCommand(
  args: string[],
  out: Output,
  openRegistry: () => ModelRegistry,
  policy: PolicyConfig = Value.Default(policyConfigSchema, {}) as PolicyConfig,
): Promise<number> {
  const parsed = parseCommand(
    args,
    {
      json: { type: 'boolean' },
      force: { type: 'boolean' },
      reason: { type: 'string' },
      limit: { type: 'string' },
    },
    MODELS_USAGE,
    out,
    true,
  );
  if ('exit' in parsed) return parsed.exit;
  const [action, version] = parsed.positionals;
  const json = parsed.values.json === true;
  const needsVersion = action === 'show' || action === 'promote' || action === 'challenger';
  if (
    !action ||
    !['list', 'show', 'promote', 'rollback', 'challenger', 'audit'].includes(action) ||
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
        print(records, records.length === 0 ? 'no models registered' : table(records, MODEL_COLUMNS));
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
            table([record], MODEL_COLUMNS),
            ...(record.domain
              ? [
                  `domain: ${record.domain.stores} stores in ${record.domain.timezones.join(', ') || '?'}, ${record.domain.features.length} features`,
                ]
              : ['domain: not recorded (registered before domains were)']),
            'metrics:',
            ...metrics,
            'alias history:',
            ...(moves.length ? moves : ['  none']),
          ].join('\n'),
        );
        return 0;
      }
      case 'promote': {
        const outcome = await guardedPromote(registry, version!, {
          policy,
          actor: 'cli',
          via: 'promote (CLI)',
          force: parsed.values.force === true,
          ...(typeof parsed.values.reason === 'string' ? { reason: parsed.values.reason } : {}),
          overrideHint: 'use --force --reason TEXT',
        });
        print(
          {
            model: outcome.record,
            previous: outcome.previous,
            forced: outcome.forced,
            decision: outcome.decision.summary,
            comparison: outcome.comparison,
          },
          [
            `champion: ${outcome.previous ?? '-'} -> ${outcome.record.version}${outcome.forced ? ' (forced)' : ''}`,
            describeComparison(outcome.comparison),
          ].join('\n'),
        );
        return 0;
      }
      case 'audit': {
        const limit = parsed.values.limit === undefined ? 50 : Number(parsed.values.limit);
        if (!Number.isInteger(limit) || limit < 1) {
          out.error(`--limit must be a positive integer (got ${String(parsed.values.limit)})`);
          return 2;
        }
        const entries = await registry.audit(limit);
        print({ entries }, entries.length === 0 ? 'the audit log is empty' : table(entries, AUDIT_COLUMNS));
        return 0;
      }
      case 'rollback': {
        const moved = await auditedRollback(registry, 'cli');
        print(moved, `champion rolled back: ${moved.from} -> ${moved.to}`);
        return 0;
      }
      default: {
        const target = version === 'none' ? null : version!;
        await guardedSetChallenger(registry, target);
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
