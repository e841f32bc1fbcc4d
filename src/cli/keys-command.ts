import { ApiKeyFileError, ApiKeyStore, keyBackendFor, SCOPES, type Scope } from '../gateway/index.js';
import { isEtaError } from '../platform/index.js';
import { parseCommand } from './help.js';
import { isLoopback, type AppConfig } from '../app/index.js';
import { printJson, printTable, type Output } from './output.js';
import { loadConfigOrExplain } from './start-command.js';

const USAGE = `Usage: etaserve keys <create|list|rotate|revoke> [options]

  keys create --name NAME [--scopes predict,events,admin] [--rate N]   prints the new key once; only its hash is kept
  keys list [--json]                                                  ids, names, scopes, state (never the keys),
                                                                      and the built-in keys (demo, admin file)
  keys rotate ID [--overlap SECONDS]                                  a new key; the old one works for the overlap (default 86400)
  keys revoke ID                                                      the key stops working at once

Options: --config FILE, -h/--help. Keys live where the running gateways keep them: PostgreSQL when
store.database is postgres, else the data directory's key file.`;

export async function runKeysCommand(args: string[], out: Output): Promise<number> {
  const [sub, ...rest] = args;
  const parsed = parseCommand(
    rest,
    {
      name: { type: 'string' },
      scopes: { type: 'string', default: 'predict' },
      rate: { type: 'string' },
      overlap: { type: 'string', default: '86400' },
      config: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
    out,
    true,
  );
  if ('exit' in parsed) return parsed.exit;
  if (!sub || sub === '--help' || sub === '-h') {
    out.log(USAGE);
    return sub ? 0 : 2;
  }
  const config = loadConfigOrExplain(parsed.values.config as string | undefined, out);
  if (!config) return 1;
  const keys = new ApiKeyStore(keyBackendFor(config.store, config.platform.dataDir));
  try {
    return await run(sub, keys, parsed.positionals[0], parsed.values, out, builtInKeys(config));
  } catch (e) {
    // A damaged key file is refused, never overwritten with what could be read of it; a database down is said so.
    if (e instanceof ApiKeyFileError || isEtaError(e)) {
      out.error(e.message);
      return 1;
    }
    throw e;
  } finally {
    await keys.close();
  }
}

async function run(
  sub: string,
  keys: ApiKeyStore,
  id: string | undefined,
  values: Record<string, unknown>,
  out: Output,
  builtIn: KeyRow[],
): Promise<number> {
  const parsed = { values };
  switch (sub) {
    case 'create': {
      const name = parsed.values.name as string | undefined;
      if (!name) return fail(out, '--name is required');
      const scopes = String(parsed.values.scopes)
        .split(',')
        .map((s) => s.trim());
      const unknown = scopes.find((s) => !(SCOPES as readonly string[]).includes(s));
      if (unknown) return fail(out, `unknown scope ${unknown}; scopes are ${SCOPES.join(', ')}`);
      const rate = parsed.values.rate === undefined ? null : Number(parsed.values.rate);
      if (rate !== null && (!Number.isInteger(rate) || rate < 1))
        return fail(out, `--rate must be a positive integer, got ${String(parsed.values.rate)}`);
      const { record, key } = await keys.create(name, scopes as Scope[], rate);
      out.log(
        `created key ${record.id} (${record.scopes.join(', ')}). Store it now; it is not shown again:\n${key}`,
      );
      return 0;
    }
    case 'list': {
      const rows: KeyRow[] = [
        ...(await keys.list()).map((k) => ({
          id: k.id,
          name: k.name,
          kind: keys.backend.kind,
          scopes: k.scopes.join(','),
          rate: k.rateLimitPerSecond,
          state: k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt ? `expires ${k.expiresAt}` : 'active',
          created: k.createdAt,
        })),
        ...builtIn,
      ];
      if (parsed.values.json) {
        printJson(rows, out);
        return 0;
      }
      printTable(rows, KEY_COLUMNS, out);
      if (rows.length === 0) out.log('(no keys)');
      return 0;
    }
    case 'rotate': {
      if (!id) return fail(out, 'rotate needs the key id');
      const overlap = Number(parsed.values.overlap);
      if (!Number.isInteger(overlap) || overlap < 0)
        return fail(out, `--overlap must be whole seconds, got ${String(parsed.values.overlap)}`);
      const rotated = await keys.rotate(id, overlap);
      if (!rotated) return fail(out, `no active key ${id}`);
      out.log(`key ${id} expires in ${overlap} s; its replacement ${rotated.record.id}:\n${rotated.key}`);
      return 0;
    }
    case 'revoke':
      if (!id) return fail(out, 'revoke needs the key id');
      if (!(await keys.revoke(id))) return fail(out, `no key ${id}`);
      out.log(`key ${id} revoked`);
      return 0;
    default:
      return fail(out, `unknown keys command ${sub}\n\n${USAGE}`);
  }
}

interface KeyRow extends Record<string, unknown> {
  id: string;
  name: string;
  /** `file`: the data directory's key file; `postgres`: the database's; `built-in`: given at the start, never stored. */
  kind: 'file' | 'postgres' | 'built-in';
  scopes: string;
  rate: number | null;
  state: string;
  created: string | null;
}

const KEY_COLUMNS = [
  { key: 'id', header: 'ID' },
  { key: 'name', header: 'NAME', maxWidth: 30 },
  { key: 'kind', header: 'KIND' },
  { key: 'scopes', header: 'SCOPES' },
  {
    key: 'rate',
    header: 'RATE/S',
    align: 'right' as const,
    format: (v: unknown) => (v === null ? '-' : String(v)),
  },
  { key: 'state', header: 'STATE' },
  { key: 'created', header: 'CREATED' },
];

/**
 * The keys a gateway of this configuration adds at its start, besides the key file: what the CLI can know of them
 * (never the key itself). The demo key exists in the loopback demo shapes (`start`, `up`); unless
 * gateway.demoApiKey fixes it, it is new at each start and printed there.
 */
function builtInKeys(config: AppConfig): KeyRow[] {
  const rows: KeyRow[] = [];
  if (isLoopback(config.platform.host))
    rows.push({
      id: 'demo',
      name: 'demo key',
      kind: 'built-in',
      scopes: SCOPES.join(','),
      rate: config.gateway.demoRateLimitPerSecond,
      state: config.gateway.demoApiKey
        ? 'active in demo shapes (gateway.demoApiKey)'
        : 'active in demo shapes (new at each start, printed there)',
      created: null,
    });
  if (config.gateway.adminKeyFile)
    rows.push({
      id: 'admin-file',
      name: 'admin key file',
      kind: 'built-in',
      scopes: SCOPES.join(','),
      rate: null,
      state: `active (${config.gateway.adminKeyFile})`,
      created: null,
    });
  return rows;
}

function fail(out: Output, message: string): number {
  out.error(message);
  return 2;
}
