import { readFile } from 'node:fs/promises';
import {
  detectStoreFileFormat,
  readStoreFile,
  type NewStore,
  type StoreCatalog,
  type StoreFileFormat,
} from '../store/index.js';
import { parseCommand } from './help.js';
import { printJson, printTable } from './output.js';

export interface StoresCommandDeps {
  openCatalog: () => Promise<StoreCatalog>;
  log: (line: string) => void;
  error: (line: string) => void;
}

const USAGE = `Usage: etaserve stores <import|list> [options]

  stores import FILE [--dry-run] [--format csv|jsonl] [--batch-size N] [--json]
  stores list [--limit N] [--json]

Options: --config FILE, -h/--help. Run a subcommand with --help for details.`;

const IMPORT_USAGE = `Usage: etaserve stores import FILE [--dry-run] [--format csv|jsonl] [--batch-size N] [--json]

Loads stores in bulk into the catalog, creating new ones and replacing existing ones (by store_id).
Every row is validated; good rows are written in batches, bad ones are listed as "line L: field: reason".

FILE is CSV with a header row:
  store_id,name,lat,lng,category,timezone,delivery_radius_km,prep_mean_s,prep_p90_s[,opening_hours]
  (opening_hours is optional JSON, quoted: "{""mon"":[[""11:00"",""22:00""]]}"; empty means open 24/7)
or JSON lines (.jsonl, .ndjson), one store per line in the API's shape (see GET /v1/stores/{store_id}).

  --dry-run         validate and report, write nothing
  --format F        csv or jsonl (default: from the file name, else from its first character)
  --batch-size N    stores per transaction (default 500)
  --json            the result as one JSON document (valid, created, updated, refused rows), for scripts

Exit status: 0 all imported, 1 some rows refused or the database failed, 2 bad usage.`;

const LIST_USAGE = `Usage: etaserve stores list [--limit N] [--json]

Prints the catalog's stores as a table, ordered by store_id.

  --limit N   at most N stores (default 50)
  --json      {"stores": [...], "total": N} instead, for scripts`;

const SHOWN_REFUSALS = 50;
async function importStores(args: string[], deps: StoresCommandDeps): Promise<number> {
  const parsed = parseCommand(
    args,
    {
      'dry-run': { type: 'boolean' },
      format: { type: 'string' },
      'batch-size': { type: 'string', default: '500' },
      json: { type: 'boolean' },
    },
    IMPORT_USAGE,
    deps,
    true,
  );
  if ('exit' in parsed) return parsed.exit;
  const [file, ...extra] = parsed.positionals;
  const format = parsed.values.format as string | undefined;
  const batchSize = Number(parsed.values['batch-size']);
  if (!file || extra.length > 0) return usage(deps, 'import takes one FILE', IMPORT_USAGE);
  if (format !== undefined && format !== 'csv' && format !== 'jsonl')
    return usage(deps, `--format must be csv or jsonl, not ${format}`, IMPORT_USAGE);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    return usage(deps, '--batch-size must be a positive integer', IMPORT_USAGE);

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    deps.error(`cannot read ${file}: ${(e as Error).message}`);
    return 1;
  }
  const read = readStoreFile(
    text,
    (format as StoreFileFormat | undefined) ?? detectStoreFileFormat(file, text),
  );
  if (!read.ok) {
    deps.error(`${file}: ${read.error}`);
    return 1;
  }
  const good: NewStore[] = [];
  const refused: string[] = [];
  for (const row of read.value) {
    if ('store' in row) good.push(row.store);
    else refused.push(row.refused);
  }

  let written = { created: 0, updated: 0 };
  let failed = false;
  if (!parsed.values['dry-run'] && good.length > 0) {
    const catalog = await deps.openCatalog();
    try {
      for (let i = 0; i < good.length; i += batchSize) {
        const r = await catalog.upsertMany(good.slice(i, i + batchSize));
        written = { created: written.created + r.created, updated: written.updated + r.updated };
      }
    } catch (e) {
      deps.error(
        `writing stopped after ${written.created + written.updated} stores: ${(e as Error).message}`,
      );
      failed = true;
    } finally {
      await catalog.close();
    }
  }

  if (parsed.values.json) {
    printJson(
      {
        file,
        dryRun: Boolean(parsed.values['dry-run']),
        valid: good.length,
        created: written.created,
        updated: written.updated,
        refused,
        failed,
      },
      deps,
    );
    return failed || refused.length > 0 ? 1 : 0;
  }
  if (refused.length > 0) {
    deps.log(`refused ${refused.length} row${refused.length === 1 ? '' : 's'}:`);
    for (const r of refused.slice(0, SHOWN_REFUSALS)) deps.log(`  ${r}`);
    if (refused.length > SHOWN_REFUSALS) deps.log(`  ... and ${refused.length - SHOWN_REFUSALS} more`);
  }
  if (parsed.values['dry-run']) {
    deps.log(`dry run: ${stores(good.length)} valid, ${refused.length} refused; nothing written`);
  } else {
    const total = written.created + written.updated;
    deps.log(
      `imported ${stores(total)} (${written.created} new, ${written.updated} updated), refused ${refused.length}`,
    );
  }
  return failed || refused.length > 0 ? 1 : 0;
}

async function listStores(args: string[], deps: StoresCommandDeps): Promise<number> {
  const parsed = parseCommand(
    args,
    { limit: { type: 'string', default: '50' }, json: { type: 'boolean' } },
    LIST_USAGE,
    deps,
  );
  if ('exit' in parsed) return parsed.exit;
  const limit = Number(parsed.values.limit);
  if (!Number.isInteger(limit) || limit < 1)
    return usage(deps, '--limit must be a positive integer', LIST_USAGE);
  const catalog = await deps.openCatalog();
  try {
    const rows: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    while (rows.length < limit) {
      const page = await catalog.list({ limit: limit - rows.length, cursor });
      for (const s of page.stores)
        rows.push({
          storeId: s.storeId,
          name: s.name,
          category: s.category,
          timezone: s.timezone,
          lat: s.location.lat,
          lng: s.location.lng,
          deliveryRadiusKm: s.deliveryRadiusKm,
          prepMeanS: s.prepProfile.meanSeconds,
          prepP90S: s.prepProfile.p90Seconds,
        });
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    const total = await catalog.count();
    if (parsed.values.json) {
      printJson({ stores: rows, total }, deps);
      return 0;
    }
    printTable(
      rows,
      [
        { key: 'storeId', header: 'STORE_ID' },
        { key: 'name', header: 'NAME', maxWidth: 30 },
        { key: 'category', header: 'CATEGORY' },
        { key: 'timezone', header: 'TIMEZONE' },
        { key: 'lat', header: 'LAT', align: 'right' },
        { key: 'lng', header: 'LNG', align: 'right' },
        { key: 'deliveryRadiusKm', header: 'RADIUS_KM', align: 'right' },
        { key: 'prepMeanS', header: 'PREP_MEAN_S', align: 'right' },
        { key: 'prepP90S', header: 'PREP_P90_S', align: 'right' },
      ],
      deps,
    );
    deps.log(`${rows.length} of ${total} stores`);
    return 0;
  } finally {
    await catalog.close();
  }
}

const stores = (n: number): string => `${n} store${n === 1 ? '' : 's'}`;

function usage(deps: StoresCommandDeps, problem: string, text: string): number {
  deps.error(`${problem}\n\n${text}`);
  return 2;
}

/** `etaserve stores ...`: returns the exit status. */
export async function runStoresCommand(args: string[], deps: StoresCommandDeps): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === 'import') return await importStores(rest, deps);
    if (sub === 'list') return await listStores(rest, deps);
  } catch (e) {
    deps.error(`stores ${sub}: ${(e as Error).message}`);
    return 1;
  }
  if (sub === '--help' || sub === '-h') {
    deps.log(USAGE);
    return 0;
  }
  deps.error(sub ? `unknown subcommand ${sub}\n\n${USAGE}` : USAGE);
  return 2;
}
