import { cacheModule } from '../cache/index.js';
import { eventsModule } from '../events/index.js';
import { gatewayModule } from '../gateway/index.js';
import { geoModule } from '../geo/index.js';
import { ordersModule } from '../orders/index.js';
import { accuracyModule, pipelineModule } from '../pipeline/index.js';
import type { ModuleDefinition, ModuleName } from '../platform/index.js';
import { predictorModule } from '../predictor/index.js';
import { registryModule } from '../registry/index.js';
import { storeModule } from '../store/index.js';
import type { AppConfig } from './config.js';

export type { ModuleName };

/**
 * The module table: every module of the platform, each declared in its own folder's `module.ts`. A module with a
 * port is a runnable target (`--target store,geo`); the others back them. A process serves on the port of its
 * last target in dependency order (the one the others serve: `all` and `gateway+store` on the gateway's).
 */
export const MODULE_TABLE = [
  cacheModule,
  registryModule,
  eventsModule,
  storeModule,
  geoModule,
  predictorModule,
  accuracyModule,
  ordersModule,
  pipelineModule,
  gatewayModule,
] as const satisfies ReadonlyArray<ModuleDefinition<AppConfig, unknown>>;

type AnyDefinition = ModuleDefinition<AppConfig, unknown>;

export const DEFINITIONS: ReadonlyMap<ModuleName, AnyDefinition> = new Map(
  MODULE_TABLE.map((d) => [d.name, d as AnyDefinition]),
);

/** The runnable targets, in the table's order. */
export const TARGET_MODULES: readonly ModuleName[] = MODULE_TABLE.filter((d) => 'port' in d && d.port).map(
  (d) => d.name,
);

/** For the CLI and the help: every target and what it is. */
export const MODULES: Readonly<Record<string, { deps: readonly ModuleName[]; description: string }>> =
  Object.fromEntries(
    TARGET_MODULES.map((name) => {
      const d = DEFINITIONS.get(name)!;
      return [name, { deps: d.needs.filter((n) => TARGET_MODULES.includes(n)), description: d.description }];
    }),
  );

export const TARGETS = ['all', ...TARGET_MODULES] as const;

export class TargetError extends Error {}

/**
 * Every module this process runs, dependencies first: the targets, what they need (unless `remote` names it: its
 * client stands in) and, for ordering, what they use when present. Refuses unknown targets and cycles.
 */
export function resolveModules(
  targets: readonly string[],
  remote: ReadonlySet<ModuleName> = new Set(),
): ModuleName[] {
  const wanted = targets.includes('all') ? TARGET_MODULES : targets;
  for (const t of wanted)
    if (!TARGET_MODULES.includes(t as ModuleName))
      throw new TargetError(`unknown target ${t}; known: ${TARGETS.join(', ')}`);
  // Which modules run here: the targets and the closure of their needs, minus what is remote.
  const present = new Set<ModuleName>();
  const clients = new Set<ModuleName>();
  const include = (name: ModuleName, explicit: boolean): void => {
    const d = DEFINITIONS.get(name)!;
    if (!explicit && remote.has(name)) {
      // Its client stands in for it, and runs on what the client needs here.
      if (!clients.has(name)) for (const dep of d.remote?.needs ?? []) include(dep, false);
      clients.add(name);
      return;
    }
    if (present.has(name)) return;
    present.add(name);
    for (const dep of d.needs) include(dep, false);
  };
  for (const t of wanted) include(t as ModuleName, true);
  // In dependency order; a used module that runs here comes first too, so its user finds it. A remote module's
  // client is built by its first user, after the modules the client needs.
  const order: ModuleName[] = [];
  const visiting = new Set<ModuleName>();
  const visit = (name: ModuleName): void => {
    if (order.includes(name)) return;
    if (visiting.has(name)) throw new TargetError(`dependency cycle through ${name}`);
    visiting.add(name);
    const d = DEFINITIONS.get(name)!;
    for (const dep of [...d.needs, ...(d.uses ?? [])]) if (present.has(dep)) visit(dep);
    visiting.delete(name);
    order.push(name);
  };
  for (const d of MODULE_TABLE) if (present.has(d.name)) visit(d.name);
  return order;
}

/** The targets this process runs (what `resolveModules` gives, without the modules that only back them). */
export function resolveTargets(
  targets: readonly string[],
  remote: ReadonlySet<ModuleName> = new Set(),
): ModuleName[] {
  return resolveModules(targets, remote).filter((m) => TARGET_MODULES.includes(m));
}

/** The modules the configuration places in other processes. */
export function remoteModules(config: AppConfig): Set<ModuleName> {
  return new Set(
    MODULE_TABLE.filter((d) => 'remote' in d && d.remote?.configured(config)).map((d) => d.name),
  );
}

export function describeModules(): string[] {
  return Object.entries(MODULES).map(
    ([name, m]) =>
      `${name.padEnd(10)} ${m.description}${m.deps.length ? ` (needs ${m.deps.join(', ')})` : ''}`,
  );
}
