import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { runStoresCommand } from '../src/cli/stores-command.js';
import { openSqliteCatalog, type StoreCatalog } from '../src/store/index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-stores-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEADER =
  'store_id,name,lat,lng,category,timezone,delivery_radius_km,prep_mean_s,prep_p90_s,opening_hours';

describe('etaserve stores', () => {
  let dbFile: string;
  let out: string[];
  let err: string[];
  let n = 0;
  const deps = () => ({
    openCatalog: (): Promise<StoreCatalog> => openSqliteCatalog(dbFile, { maxPageSize: 500 }),
    log: (s: string) => out.push(s),
    error: (s: string) => err.push(s),
  });
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const stored = async (): Promise<string[]> => {
    const catalog = await openSqliteCatalog(dbFile, { maxPageSize: 500 });
    const ids = (await catalog.list({ limit: 500 })).stores.map((s) => s.storeId);
    await catalog.close();
    return ids;
  };

  beforeEach(() => {
    dbFile = path.join(dir, `catalog-${++n}.db`);
    out = [];
    err = [];
  });

  it('imports the good CSV rows and lists the bad lines', async () => {
    const csv = file(
      'stores.csv',
      [
        HEADER,
        's-1,Pizza Roma,48.86,2.35,pizza,Europe/Paris,5,600,900,"{""mon"":[[""11:00"",""22:00""]]}"',
        's-2,"Burger, Bar",48.85,2.34,burger,Europe/Paris,3,400,700,',
        's-3,Too North,91,2.34,burger,Europe/Paris,3,400,700,',
        '',
        's-4,Bad Zone,48.85,2.34,asian,Europe/Nowhere,3,400,700,',
        's-5,Slow,48.85,2.34,asian,Europe/Paris,3,900,600,',
        's-6,Broken hours,48.85,2.34,asian,Europe/Paris,3,400,700,"{mon:"',
        's-1,Again,48.86,2.35,pizza,Europe/Paris,5,600,900,',
        's-7,Short row,48.85',
        's-8,"Multi',
        'line name",48.85,2.34,cafe,Europe/Paris,2,300,400,',
      ].join('\n'),
    );
    const code = await runStoresCommand(['import', csv], deps());
    expect(code).toBe(1);
    expect(out).toEqual([
      'refused 6 rows:',
      '  line 4: lat: must be -90..90',
      '  line 6: timezone: "Europe/Nowhere" is not an IANA timezone (Europe/Paris)',
      '  line 7: prep_p90_s: must be at least mean_seconds',
      '  line 8: opening_hours: is not valid JSON',
      '  line 9: store_id: s-1 is already on line 2',
      '  line 10: row: has 3 fields, the header 10',
      'imported 3 stores (3 new, 0 updated), refused 6',
    ]);
    expect(await stored()).toEqual(['s-1', 's-2', 's-8']);
    const catalog = await openSqliteCatalog(dbFile, { maxPageSize: 500 });
    expect(await catalog.get('s-2')).toMatchObject({ name: 'Burger, Bar', openingHours: {} });
    expect(await catalog.get('s-8')).toMatchObject({ name: 'Multi\nline name' });
    await catalog.close();
  });

  it('imports JSON lines, updating what exists', async () => {
    const line = (id: string, lat: number) =>
      JSON.stringify({
        store_id: id,
        name: id,
        location: { lat, lng: 2 },
        category: 'cafe',
        timezone: 'UTC',
        delivery_radius_km: 2,
        prep_profile: { mean_seconds: 60, p90_seconds: 90 },
      });
    const jsonl = file(
      'stores.jsonl',
      [line('j-1', 1), line('j-2', 2), '{oops', line('j-3', -95)].join('\n') + '\n',
    );
    expect(await runStoresCommand(['import', jsonl], deps())).toBe(1);
    expect(out[1]).toMatch(/^ {2}line 3: is not valid JSON \(/);
    expect(out[2]).toBe('  line 4: location.lat: must be -90..90');
    expect(out.at(-1)).toBe('imported 2 stores (2 new, 0 updated), refused 2');
    out = [];
    expect(await runStoresCommand(['import', file('again.jsonl', line('j-1', 5) + '\n')], deps())).toBe(0);
    expect(out).toEqual(['imported 1 store (0 new, 1 updated), refused 0']);
  });

  it('writes nothing on a dry run', async () => {
    const csv = file('dry.csv', `${HEADER}\nd-1,Dry,1,1,cafe,UTC,1,10,20,\n`);
    expect(await runStoresCommand(['import', csv, '--dry-run'], deps())).toBe(0);
    expect(out).toEqual(['dry run: 1 store valid, 0 refused; nothing written']);
    expect(await stored()).toEqual([]);
  });

  it('shows the first 50 refusals and counts the rest', async () => {
    const rows = Array.from({ length: 60 }, (_, i) => `x-${i},X,100,1,cafe,UTC,1,10,20,`);
    await runStoresCommand(['import', file('many.csv', [HEADER, ...rows].join('\n'))], deps());
    expect(out[0]).toBe('refused 60 rows:');
    expect(out).toHaveLength(1 + 50 + 1 + 1);
    expect(out[51]).toBe('  ... and 10 more');
  });

  it('refuses a header it does not know, a missing file and bad usage', async () => {
    expect(await runStoresCommand(['import', file('h.csv', 'id,name\n1,a\n')], deps())).toBe(1);
    expect(err[0]).toMatch(
      /line 1: the header has missing column\(s\) store_id, lat.* and unknown column\(s\) id/,
    );
    expect(await runStoresCommand(['import', path.join(dir, 'none.csv')], deps())).toBe(1);
    expect(await runStoresCommand(['import'], deps())).toBe(2);
    expect(await runStoresCommand(['import', 'a.csv', '--format', 'xml'], deps())).toBe(2);
    expect(await runStoresCommand(['frobnicate'], deps())).toBe(2);
  });

  it('prints help for each command', async () => {
    for (const args of [['--help'], ['import', '--help'], ['list', '--help']]) {
      out = [];
      expect(await runStoresCommand(args, deps())).toBe(0);
      expect(out.join('\n')).toMatch(/^Usage: etaserve stores/);
    }
  });

  it('lists stores as a table', async () => {
    const rows = Array.from(
      { length: 5 },
      (_, i) => `l-${i},Store number ${i},48.8,2.3,pizza,Europe/Paris,4,600,900,`,
    );
    await runStoresCommand(['import', file('list.csv', [HEADER, ...rows].join('\n'))], deps());
    out = [];
    expect(await runStoresCommand(['list', '--limit', '3'], deps())).toBe(0);
    expect(out[0]).toMatch(
      /^STORE_ID\s+NAME\s+CATEGORY\s+TIMEZONE\s+LAT\s+LNG\s+RADIUS_KM\s+PREP_MEAN_S\s+PREP_P90_S$/,
    );
    expect(out.slice(1, 4).map((l) => l.split(/\s+/)[0])).toEqual(['l-0', 'l-1', 'l-2']);
    expect(out[4]).toBe('3 of 5 stores');
    expect(await runStoresCommand(['list', '--limit', 'x'], deps())).toBe(2);
  });
});
