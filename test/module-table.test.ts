import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { composeProcess } from '../src/app/compose.js';
import { loadAppConfig } from '../src/app/config.js';
import { MODULE_TABLE, resolveModules, TARGETS } from '../src/app/modules.js';
import { createLogger, routesOf } from '../src/platform/index.js';
import { ALLOWED } from '../scripts/module-boundaries.js';

/**
 * The module table (src/app/modules.ts) is the truth about what needs what: each definition's `init` asks for
 * exactly the modules it declares, lint's import directions allow them, and each target started alone serves its
 * own routes and nothing else.
 */

const SRC = path.resolve('src');

/** The folder of a module's definition: its own folder, or (the accuracy join) a folder inside its parent's. */
function definitionFile(name: string): string {
  const top = path.join(SRC, name, 'module.ts');
  try {
    readFileSync(top);
    return top;
  } catch {
    const nested = readdirSync(SRC, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(SRC, d.name, name, 'module.ts'))
      .find((file) => {
        try {
          readFileSync(file);
          return true;
        } catch {
          return false;
        }
      });
    if (!nested) throw new Error(`no module.ts for ${name}`);
    return nested;
  }
}

/** The modules a definition's source asks its init for: `get('x')` (needed) and `find('x')` (used when present). */
function askedFor(file: string): { got: Set<string>; found: Set<string> } {
  const source = readFileSync(file, 'utf8');
  const names = (call: string): Set<string> =>
    new Set([...source.matchAll(new RegExp(`\\b${call}\\('([a-z]+)'\\)`, 'g'))].map((m) => m[1]!));
  return { got: names('get'), found: names('find') };
}

describe('the module table', () => {
  it('lists each module once, with a definition in its own folder', () => {
    const names = MODULE_TABLE.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const d of MODULE_TABLE)
      expect(readFileSync(definitionFile(d.name), 'utf8')).toContain(`name: '${d.name}'`);
  });

  it.each(MODULE_TABLE.map((d) => [d.name, d] as const))(
    '%s asks its init for exactly what it declares',
    (name, d) => {
      const { got, found } = askedFor(definitionFile(name));
      const uses = 'uses' in d ? (d.uses ?? []) : [];
      // Needed modules are fetched with get (or found, where only the process's own copy will do); used ones with find.
      expect([...new Set([...got, ...found])].sort()).toEqual([...new Set([...d.needs, ...uses])].sort());
      for (const n of got) expect(d.needs).toContain(n);
      for (const u of uses) expect(found).toContain(u);
    },
  );

  it("agrees with lint's import directions: a module's code never imports a module that needs it", () => {
    const folderOf = (name: string): string => path.relative(SRC, definitionFile(name)).split(path.sep)[0]!;
    const allowed = ALLOWED as Record<string, string[]>;
    for (const d of MODULE_TABLE) {
      const from = folderOf(d.name);
      const uses = 'uses' in d ? (d.uses ?? []) : [];
      for (const dep of [...d.needs, ...uses]) {
        const to = folderOf(dep);
        if (to === from) continue;
        expect(allowed[to], `${dep} may not import ${d.name}, which needs it`).not.toContain(from);
      }
    }
  });

  it('orders every target after what it needs and what it uses', () => {
    const order = resolveModules(['all']);
    for (const d of MODULE_TABLE) {
      const uses = 'uses' in d ? (d.uses ?? []) : [];
      for (const dep of [...d.needs, ...uses]) expect(order.indexOf(dep)).toBeLessThan(order.indexOf(d.name));
    }
  });
});

/** The routes each target owns, by path prefix; every process also answers health, readiness and metrics. */
const OWN_ROUTES: Record<string, RegExp> = {
  // The cache bus's hub is served where the store module runs: store changes happen there.
  store: /^\/internal\/(store|cache\/bus)(\/|$)/,
  geo: /^\/internal\/geo\//,
  predictor: /^\/(internal\/predict\/|v2\/)/,
  pipeline: /^$/,
  orders: /^\/internal\/orders(\/|$)/,
  gateway: /^\/(v1\/|v2\/|docs|$|live$|models$|accuracy$|orders$|map$|try$|favicon\.svg$|assets\/)/,
};
const EVERY_PROCESS = new Set(['/healthz', '/readyz', '/metrics']);
const NOWHERE = 'http://127.0.0.1:9';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe.each(TARGETS.filter((t) => t !== 'all'))('--target %s alone', (target) => {
  it('serves its own routes and nothing else', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'etaserve-module-table-'));
    const config = loadAppConfig({
      env: {
        ETASERVE_DATA_DIR: dir,
        ETASERVE_INTERNAL_TOKEN: 'module-table-test-internal-token',
        ETASERVE_TOPOLOGY_SHARED_DISK: 'true',
        // Every other target in another process.
        ETASERVE_TOPOLOGY_STORE_URL: target === 'store' ? '' : NOWHERE,
        ETASERVE_TOPOLOGY_GEO_URL: target === 'geo' ? '' : NOWHERE,
        ETASERVE_TOPOLOGY_PREDICTOR_URLS: target === 'predictor' ? '' : NOWHERE,
        ETASERVE_TOPOLOGY_ORDERS_URL: target === 'orders' ? '' : NOWHERE,
      },
    });
    const proc = await composeProcess(config, [target], createLogger({ level: 'silent' }));
    cleanups.push(async () => {
      for (const l of proc.listeners) await l.app.close();
      await proc.manager.stopAll();
      rmSync(dir, { recursive: true, force: true });
    });
    expect(proc.modules).toEqual([target]);
    const served: string[] = [];
    for (const l of proc.listeners) {
      await l.app.ready();
      for (const r of routesOf(l.app)) if (!EVERY_PROCESS.has(r.url)) served.push(r.url);
    }
    const foreign = served.filter((url) => !OWN_ROUTES[target]!.test(url));
    expect(foreign).toEqual([]);
    if (target !== 'pipeline') expect(served.length).toBeGreaterThan(0);
  });
});
