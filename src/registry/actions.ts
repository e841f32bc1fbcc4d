import { EtaError } from '../platform/index.js';
import type { ModelRecord, ModelRegistry } from './types.js';

/** Points `champion` at a version; a challenger promoted stops being the challenger. */
export async function promote(
  registry: ModelRegistry,
  version: string,
  reason = 'promote',
): Promise<ModelRecord> {
  const record = await registry.get(version);
  if (!record) throw new EtaError('model_not_found', `no model version ${version}`, { field: 'version' });
  await registry.setAlias('champion', version, reason);
  if ((await registry.resolve('challenger')) === version) await registry.setAlias('challenger', null, reason);
  return (await registry.get(version))!;
}

export async function setChallenger(registry: ModelRegistry, version: string | null): Promise<void> {
  if (version !== null && (await registry.resolve('champion')) === version)
    throw new EtaError('conflict', `${version} is the champion; it cannot also be the challenger`, {
      field: 'version',
    });
  await registry.setAlias('challenger', version, version === null ? 'clear challenger' : 'challenger');
}

/**
 * The champions `rollback` would return to, oldest first, ending with the current one. The champion history is
 * replayed as a stack (a promotion pushes, a rollback pops), so two rollbacks in a row go two versions back instead
 * of toggling.
 */
export async function championStack(
  registry: ModelRegistry,
): Promise<{ current: string | undefined; stack: string[] }> {
  const history = (await registry.aliasHistory('champion', 10_000)).reverse();
  const stack: string[] = [];
  for (const change of history) {
    if (change.reason.startsWith('rollback')) stack.pop();
    else if (change.version !== null) stack.push(change.version);
  }
  const current = await registry.resolve('champion');
  while (stack.length > 0 && stack[stack.length - 1] !== current) stack.pop();
  return { current, stack };
}

/** Moves `champion` back to the version it replaced (see `championStack`). */
export async function rollback(registry: ModelRegistry): Promise<{ from: string; to: string }> {
  const { current, stack } = await championStack(registry);
  // Retention may have deleted an old champion: rollback skips to the newest one still registered.
  let to: string | undefined;
  for (let i = stack.length - 2; i >= 0 && to === undefined; i--)
    if (await registry.get(stack[i]!)) to = stack[i];
  if (!current || !to)
    throw new EtaError('conflict', 'there is no earlier champion to roll back to', { field: 'version' });
  await registry.setAlias('champion', to, `rollback from ${current}`);
  return { from: current, to };
}
