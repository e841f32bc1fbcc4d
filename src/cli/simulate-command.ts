import { parseArgs } from 'node:util';
import { Value } from 'typebox/value';
import {
  generateHistory,
  simulatorConfigSchema,
  writeHistory,
  type SimulatorConfig,
} from '../simulator/index.js';
import { toNewStoreJson } from '../store/index.js';

export interface CommandOutput {
  log: (line: string) => void;
  error: (line: string) => void;
}

const DAY = 86_400_000;

export const SIMULATE_USAGE = `etaserve simulate --out DIR [--days N] [--stores N] [--orders-per-day N] [--seed S] [--json]

Writes a simulated city's history: stores.jsonl (catalog entries in the store API's shape, ready for
etaserve stores import), orders.csv (every lifecycle timestamp), rider_pings.csv (rider positions).
The same seed gives the same city and history. --json prints what was written as JSON, for scripts.`;

/** A positive integer flag, or the default; undefined (after printing why) when it is not one. */
export function intFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  deps: CommandOutput,
  min = 1,
): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    deps.error(`--${name} must be an integer of at least ${min}, not ${JSON.stringify(value)}`);
    return undefined;
  }
  return n;
}

export async function runSimulateCommand(args: string[], deps: CommandOutput): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        out: { type: 'string' },
        days: { type: 'string' },
        stores: { type: 'string' },
        'orders-per-day': { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    deps.error(`${(e as Error).message}\n\n${SIMULATE_USAGE}`);
    return 2;
  }
  if (values.help) {
    deps.log(SIMULATE_USAGE);
    return 0;
  }
  if (!values.out) {
    deps.error(`--out DIR is required\n\n${SIMULATE_USAGE}`);
    return 2;
  }
  const defaults = Value.Default(simulatorConfigSchema, {}) as SimulatorConfig;
  const days = intFlag(values.days, 'days', defaults.days, deps);
  const stores = intFlag(values.stores, 'stores', defaults.stores, deps);
  const ordersPerDay = intFlag(values['orders-per-day'], 'orders-per-day', defaults.ordersPerDay, deps);
  const seed = intFlag(values.seed, 'seed', defaults.seed, deps, 0);
  if (days === undefined || stores === undefined || ordersPerDay === undefined || seed === undefined)
    return 2;

  const started = Date.now();
  const history = generateHistory({
    seed,
    days,
    stores,
    ordersPerDay,
    startMs: Math.floor(Date.now() / DAY) * DAY - days * DAY,
  });
  // The store API's snake_case shape, so `etaserve stores import` reads the file back as it is.
  const counts = await writeHistory(values.out, history, toNewStoreJson);
  const seconds = Number(((Date.now() - started) / 1000).toFixed(1));
  if (values.json) {
    deps.log(JSON.stringify({ out: values.out, days, seed, ...counts, seconds }, null, 2));
    return 0;
  }
  deps.log(
    `wrote ${counts.stores} stores, ${counts.orders} orders and ${counts.pings} rider pings (${days} days, seed ${seed}) to ${values.out} in ${seconds.toFixed(1)} s`,
  );
  return 0;
}
