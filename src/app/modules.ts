/**
 * The module table: what each runnable target needs. `--target=predictor,geo` pulls in dependencies in
 * topological order; a dependency whose URL is configured in `topology` is reached over HTTP instead.
 */
export const MODULES = {
  store: { deps: [], description: 'store catalog (SQL) and live store state' },
  geo: { deps: [], description: 'distances, H3 zones, travel-time estimates, rider supply' },
  predictor: {
    deps: ['store', 'geo'],
    description: 'model serving: features, the model, Open Inference Protocol v2',
  },
  pipeline: { deps: ['store', 'geo'], description: 'training and the model registry' },
  gateway: {
    deps: ['predictor', 'store'],
    description: 'the public API: keys, rate limits, balancing, fallback, console',
  },
} as const satisfies Record<string, { deps: readonly string[]; description: string }>;

export type ModuleName = keyof typeof MODULES;
export const TARGETS = ['all', ...(Object.keys(MODULES) as ModuleName[])] as const;

/** Which port a process serves on: the first of its targets in this order. */
export const PRIMARY_ORDER: readonly ModuleName[] = ['gateway', 'predictor', 'pipeline', 'store', 'geo'];

export class TargetError extends Error {}

/**
 * The modules to run for `targets`, dependencies first. `remote` names modules reached over HTTP: they are not
 * pulled in. Refuses unknown names and cycles.
 */
export function resolveTargets(
  targets: readonly string[],
  remote: ReadonlySet<ModuleName> = new Set(),
): ModuleName[] {
  const wanted = targets.includes('all') ? (Object.keys(MODULES) as ModuleName[]) : targets;
  const order: ModuleName[] = [];
  const visiting = new Set<string>();
  const visit = (name: string, explicit: boolean): void => {
    if (!(name in MODULES)) throw new TargetError(`unknown target ${name}; known: ${TARGETS.join(', ')}`);
    const module = name as ModuleName;
    if (order.includes(module)) return;
    if (!explicit && remote.has(module)) return;
    if (visiting.has(name)) throw new TargetError(`dependency cycle through ${name}`);
    visiting.add(name);
    for (const dep of MODULES[module].deps) visit(dep, false);
    visiting.delete(name);
    order.push(module);
  };
  for (const t of wanted) visit(t, true);
  return order;
}
